// docs/guide.md, "A first VM": open a backend, give the VM memory, create a vCPU, run it until the
// guest halts, with an IoHandler answering its port I/O.
// Usage: guide_01_first_vm [BACKEND]   (default kvm; mshv-sim runs wherever KVM does)
// Exit status: 0 when the guest printed "hi", read 0x2a and halted; 77 when BACKEND is not available
// here; 1 otherwise.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <hv/backend_registry.hpp>
#include <hv/builtin_backends.hpp>
#include <hv/x86_boot.hpp>

namespace {

// [guide:first_handler]
// The VMM's side of port I/O and MMIO. run() calls it once per access, on the vCPU's thread, and
// completes the instruction itself: an IN gets what the handler leaves in `data` (all-ones if it
// leaves it alone). The guest controls every argument, so the handler bounds what it keeps.
class Console final : public hv::IoHandler {
 public:
  std::array<char, 64> printed{};
  std::size_t length = 0;

  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    if (port == 0xe9 && length < printed.size()) printed[length++] = static_cast<char>(data[0]);
  }
  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override {
    if (port == 0x60) data[0] = 0x2a;
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
};
// [/guide:first_handler]

int fail(const hv::Error& error) {
  std::fprintf(stderr, "%s\n", error.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // [guide:open]
  hv::register_builtin_backends();  // or only the one you link: hv::register_backend(hv::kvm::backend_descriptor())
  auto hypervisor = hv::open_hypervisor(argc > 1 ? argv[1] : "kvm");
  if (!hypervisor) {
    std::fprintf(stderr, "%s\n", hypervisor.error().to_string().c_str());  // e.g. "... no /dev/kvm (unavailable)"
    return hypervisor.error().kind() == hv::ErrorKind::Unavailable ? 77 : 1;
  }
  // [/guide:open]

  // [guide:memory]
  auto vm = (*hypervisor)->create_vm();
  if (!vm) return fail(vm.error());
  auto ram = hv::GuestRegion::create(0, 0x10000);  // guest-physical 0 to 64 KiB, anonymous host memory
  if (!ram) return fail(ram.error());
  // Real-mode code at 0x1000: print "hi" on port 0xe9, read port 0x60 into BL, halt.
  constexpr std::array<std::uint8_t, 14> code = {
      0xBA, 0xE9, 0x00,  // mov dx, 0xe9
      0xB0, 'h',  0xEE,  // mov al, 'h'; out dx, al
      0xB0, 'i',  0xEE,  // mov al, 'i'; out dx, al
      0xE4, 0x60,        // in al, 0x60
      0x88, 0xC3,        // mov bl, al
      0xF4,              // hlt
  };
  std::copy(code.begin(), code.end(), (*ram)->host().begin() + 0x1000);
  auto slot = (*vm)->map_memory(*ram);  // the Vm holds the region from now on
  if (!slot) return fail(slot.error());
  // [/guide:memory]

  // [guide:vcpu]
  auto vcpu = (*vm)->create_vcpu(0);
  if (!vcpu) return fail(vcpu.error());
  if (auto entered = hv::x86::enter_real_mode(**vcpu, 0x1000, 0x8000); !entered) return fail(entered.error());
  // [/guide:vcpu]

  // [guide:run]
  Console console;
  auto exit = (*vcpu)->run(console);  // two OUTs and an IN go to `console`; run() returns at the HLT
  if (!exit) return fail(exit.error());
  if (!std::holds_alternative<hv::HaltExit>(*exit)) {
    std::fprintf(stderr, "unexpected exit: %s\n", std::string(hv::exit_name(*exit)).c_str());
    return 1;
  }
  auto regs = (*vcpu)->get_registers();
  if (!regs) return fail(regs.error());
  // [/guide:run]

  const std::string_view printed(console.printed.data(), console.length);
  std::printf("guest printed \"%.*s\", read 0x%x, halted at 0x%llx\n", static_cast<int>(printed.size()), printed.data(),
              static_cast<unsigned>(regs->rbx & 0xff), static_cast<unsigned long long>(regs->rip));
  // After the HLT: the IN's value reached BL, and RIP is past the HLT at 0x100d.
  return printed == "hi" && (regs->rbx & 0xff) == 0x2a && regs->rip == 0x100e ? 0 : 1;
}
