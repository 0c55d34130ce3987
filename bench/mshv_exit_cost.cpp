// Hypercalls (and ioctls) per exit of hvkit's MSHV backend, counted on mshv-sim by
// hv::mshv::CountingSystem, beside what Cloud Hypervisor's MSHV backend needs for the same exits (from
// its source; the citations are printed with the table). On a real Hyper-V root partition each
// hypercall is a trip into the hypervisor, so this — not mshv-sim's time — is the exit's cost there.
// Each row is measured with the VP register page and without it (hvkit's hypercall fallback).
// The guests run in 64-bit mode (as Linux does); every figure is measured, none is assumed here.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "hv/guest_memory.hpp"
#include "hv/mshv/counting_system.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/x86_boot.hpp"

namespace {

constexpr std::uint64_t kRam = 0x400000;
constexpr std::uint64_t kTables = 0x380000;
constexpr std::uint64_t kCode = 0x1000;
constexpr std::uint64_t kExits = 1000;

// Counts device accesses and kicks the vCPU after `limit` of them (0: never).
class Handler final : public hv::IoHandler {
 public:
  Handler(hv::Vcpu& vcpu, std::uint64_t limit) : vcpu_(vcpu), limit_(limit) {}
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override { count(); }
  void pio_write(std::uint16_t, std::span<const std::uint8_t>) noexcept override { count(); }
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override { count(); }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override { count(); }
  std::uint64_t accesses = 0;

 private:
  void count() noexcept {
    if (++accesses == limit_) vcpu_.kick();
  }
  hv::Vcpu& vcpu_;
  std::uint64_t limit_;
};

struct Measured {
  static Measured failed(std::string why) {
    Measured m;
    m.error = std::move(why);
    return m;
  }
  std::string error;
  std::uint64_t intercepts = 0;
  hv::mshv::CallCounts calls;  // of the intercepts of the one message type measured
};

// Runs `code` until `exits` device accesses (a kick) or a halt, and returns the cost of the
// intercepts of `message` ("X64_IO_PORT_INTERCEPT", "UNMAPPED_GPA").
Measured measure(const std::vector<std::uint8_t>& code, const char* message, std::uint64_t exits,
                 hv::mshv::SimulatorOptions options) {
  Measured m;
  auto simulator = hv::mshv::make_simulator(options);
  if (!simulator) return Measured::failed(simulator.error().to_string());
  auto counting = std::make_shared<hv::mshv::CountingSystem>(*simulator);
  auto hypervisor = hv::mshv::open(counting, "mshv-sim");
  if (!hypervisor) return Measured::failed(hypervisor.error().to_string());
  auto vm = (*hypervisor)->create_vm();
  if (!vm) return Measured::failed(vm.error().to_string());
  auto ram = hv::GuestRegion::create(0, kRam);
  if (!ram) return Measured::failed(ram.error().to_string());
  std::memcpy((*ram)->host().data() + kCode, code.data(), code.size());
  if (auto r = (*vm)->map_memory(*ram); !r) return Measured::failed(r.error().to_string());
  auto vcpu = (*vm)->create_vcpu(0);
  if (!vcpu) return Measured::failed(vcpu.error().to_string());
  hv::GuestMemory memory;
  if (auto r = memory.add_region(*ram); !r) return Measured::failed(r.error().to_string());
  if (auto r = hv::x86::enter_long_mode(memory, **vcpu, kTables, kCode, 0x8000); !r)
    return Measured::failed(r.error().to_string());
  counting->reset();
  Handler handler(**vcpu, exits);
  auto exit = (*vcpu)->run(handler);
  if (!exit) return Measured::failed(exit.error().to_string());
  if (!std::holds_alternative<hv::InterruptedExit>(*exit) && !std::holds_alternative<hv::HaltExit>(*exit)) {
    return Measured::failed("unexpected exit " + std::string(hv::exit_name(*exit)));
  }
  for (const auto& [type, cost] : counting->per_intercept()) {
    if (cost.name != message) continue;
    m.intercepts = cost.intercepts;
    m.calls = cost.calls;
  }
  if (m.intercepts == 0) m.error = std::string("no ") + message + " intercept";
  return m;
}

std::string breakdown(const hv::mshv::CallCounts& calls, double per) {
  std::string out;
  for (const auto& [code, n] : calls.hypercalls) {
    char item[96];
    std::snprintf(item, sizeof item, "%s%s %.3g", out.empty() ? "" : ", ",
                  hv::mshv::hypercall_name(code).substr(7).c_str(), static_cast<double>(n) / per);  // drop "HVCALL_"
    out += item;
  }
  return out.empty() ? "none" : out;
}

struct Row {
  const char* exit;
  const char* unit;
  std::vector<std::uint8_t> code;
  const char* message;
  std::uint64_t exits;  // kick after this many device accesses (0: the guest halts)
  double units;         // what the calls are divided by: exits, or pages for string IO
  const char* ch_page;  // Cloud Hypervisor, register page mapped: hypercalls (ioctls)
  const char* ch_no_page;
};

}  // namespace

int main() {
  const auto sim = hv::mshv::probe_simulator();
  if (!sim.available) {
    std::fprintf(stderr, "mshv_exit_cost: mshv-sim is unavailable here: %s\n", sim.reason.c_str());
    return 1;
  }
  // 64 pages moved by one REP OUTSB from a page-aligned source.
  constexpr std::uint64_t kStringBytes = 0x40000;
  const std::vector<Row> rows = {
      // out dx, al ; jmp back
      {"PIO write (out dx, al)", "exit", {0xee, 0xeb, 0xfd}, "X64_IO_PORT_INTERCEPT", kExits, kExits, "0 (1)", "1 (2)"},
      // in al, dx ; jmp back
      {"PIO read (in al, dx)", "exit", {0xec, 0xeb, 0xfd}, "X64_IO_PORT_INTERCEPT", kExits, kExits, "0 (1)", "1 (2)"},
      // mov ebx, 0xd0000000 ; mov [rbx], eax ; jmp back (0xd0000000 is no RAM)
      {"MMIO write (mov [rbx], eax)",
       "exit",
       {0xbb, 0x00, 0x00, 0x00, 0xd0, 0x89, 0x03, 0xeb, 0xfc},
       "UNMAPPED_GPA",
       kExits,
       kExits,
       "0 or 1 (1 to 3)",
       "3 or 4 (4 to 6)"},
      // mov ebx, 0xd0000000 ; mov eax, [rbx] ; jmp back
      {"MMIO read (mov eax, [rbx])",
       "exit",
       {0xbb, 0x00, 0x00, 0x00, 0xd0, 0x8b, 0x03, 0xeb, 0xfc},
       "UNMAPPED_GPA",
       kExits,
       kExits,
       "0 or 1 (1 to 3)",
       "3 or 4 (4 to 6)"},
      // mov rcx, 0x40000 ; mov rsi, 0x100000 ; mov dx, 0x80 ; rep outsb ; hlt
      {"string IO (rep outsb, bytes)",
       "4 KiB page",
       {0x48, 0xc7, 0xc1, 0x00, 0x00, 0x04, 0x00, 0x48, 0xc7, 0xc6, 0x00,
        0x00, 0x10, 0x00, 0x66, 0xba, 0x80, 0x00, 0xf3, 0x6e, 0xf4},
       "X64_IO_PORT_INTERCEPT",
       0,
       kStringBytes / 4096.0,
       "4096 (4096-8192)",
       "4096 (4096-8192)"},
  };
  std::printf(
      "MSHV cost per exit: hvkit's backend on mshv-sim (counted: hv::mshv::CountingSystem) beside\n"
      "Cloud Hypervisor's MSHV backend (from its source, cloud-hypervisor ae44c297 + mshv-ioctls 1032a5de).\n"
      "Each exit counts the RUN_VP that delivered it; 64-bit guest; %llu exits per row, string IO 64 pages.\n"
      "hvkit twice: with mshv-sim's VP register page (valid at each intercept) and with it refused (ENODEV),\n"
      "which makes hvkit use the hypercalls, as it does whenever the page is not valid.\n\n",
      static_cast<unsigned long long>(kExits));
  std::printf(
      "| exit | per | hvkit hypercalls (ioctls), register page | by hypercall | hvkit, no register page | by hypercall "
      "| CH hypercalls (ioctls), register page | CH, no register page |\n");
  std::printf("|---|---|---:|---|---:|---|---|---|\n");
  int failures = 0;
  // The register page valid at each intercept (mshv-sim's default), then refused (ENODEV): hvkit's
  // fallback, the hypercalls (the same as a page that is never valid).
  const hv::mshv::SimulatorOptions with_page{}, without_page{.register_page = false};
  for (const auto& row : rows) {
    std::string cells[2];
    for (int i = 0; i < 2; ++i) {
      const Measured m = measure(row.code, row.message, row.exits, i == 0 ? with_page : without_page);
      if (!m.error.empty()) {
        cells[i] = "error: " + m.error + " | ";
        ++failures;
        continue;
      }
      // A loop's last kicked exit is complete before run() returns: every intercept counted is whole.
      const double per = row.exits == 0 ? row.units : static_cast<double>(m.intercepts);
      char cell[96];
      std::snprintf(cell, sizeof cell, "%.3f (%.3f) | ", static_cast<double>(m.calls.total_hypercalls()) / per,
                    static_cast<double>(m.calls.total_ioctls()) / per);
      cells[i] = cell + breakdown(m.calls, per);
    }
    std::printf("| %s | %s | %s | %s | %s | %s |\n", row.exit, row.unit, cells[0].c_str(), cells[1].c_str(),
                row.ch_page, row.ch_no_page);
  }
  std::printf(
      "\nCloud Hypervisor (hypervisor/src/mshv/ at ae44c2971c83, mshv-ioctls at rust-vmm/mshv 1032a5dedff0):\n"
      "- The register page is mapped at VP creation when the kernel offers it (mshv-ioctls vm.rs:244-266).\n"
      "- PIO: RIP and RAX go to the register page, else one SET_VP_REGISTERS (mod.rs:1750-1785, "
      "advance_rip_update_rax;\n"
      "  io_port.rs:85-109).\n"
      "- MMIO: registers read from the page (emulator.rs:217-245; mshv-ioctls vcpu.rs:421-427), else GET of the\n"
      "  general and of 18 special registers; one TRANSLATE unless the message's GVA->GPA is valid and on the same\n"
      "  page (emulator.rs:27-51, mod.rs:668-717); registers written back to the page, else one SET\n"
      "  (emulator.rs:123-172; vcpu.rs:411-417). mshv-ioctls first tries the MSHV_VP_TRANSLATE_GVA ioctl, which\n"
      "  upstream kernels refuse (ENOTTY), then the hypercall (vcpu.rs:1408-1415): the ioctl ranges above.\n"
      "- String IO: one TRANSLATE per element, no per-page reuse (io_port.rs:134-178, mapping None at 148-151;\n"
      "  emulator.rs:53-101), so 4096 per page of bytes (1024 of dwords); once per intercept the registers\n"
      "  (0 with the page, else 2 GETs) and the final write (0, else 1 SET) (io_port.rs:181-196, 233-294).\n");
  return failures == 0 ? 0 : 1;
}
