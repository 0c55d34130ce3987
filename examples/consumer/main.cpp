// The smallest complete program on an installed hvkit: open a backend, map memory, create a vCPU, run
// it with an IoHandler (docs/guide.md explains each step).
// Exit status: 0 when the guest printed "hi" and halted, 77 when KVM is unavailable (skip), 1 on error.
#include <cstdio>
#include <string>
#include <variant>

#include <hv/backend_registry.hpp>
#include <hv/kvm/kvm.hpp>
#include <hv/x86_boot.hpp>

int main() {
  if (auto r = hv::register_backend(hv::kvm::backend_descriptor()); !r) {
    std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
    return 1;
  }
  auto hypervisor = hv::open_hypervisor("kvm");
  if (!hypervisor) {
    std::fprintf(stderr, "skipped: %s\n", hypervisor.error().to_string().c_str());
    return hypervisor.error().kind() == hv::ErrorKind::Unavailable ? 77 : 1;
  }
  auto vm = (*hypervisor)->create_vm();
  auto ram = hv::GuestRegion::create(0, 0x10000);
  if (!vm || !ram) return 1;

  // Real-mode guest at 0x1000: print "hi" on port 0xe9, read a byte from port 0x60 into BL, halt.
  const std::uint8_t code[] = {0xBA, 0xE9, 0x00, 0xB0, 'h',  0xEE, 0xB0, 'i', 0xEE,  // mov dx,0xe9; out 'h'; out 'i'
                               0xBA, 0x60, 0x00, 0xEC, 0x88, 0xC3, 0xF4};  // mov dx,0x60; in al,dx; mov bl,al; hlt
  std::copy(std::begin(code), std::end(code), (*ram)->host().begin() + 0x1000);
  if (!(*vm)->map_memory(*ram)) return 1;
  auto vcpu = (*vm)->create_vcpu(0);
  if (!vcpu || !hv::x86::enter_real_mode(**vcpu, 0x1000, 0x8000)) return 1;

  // The VMM's devices: run() hands each port access here and completes the instruction itself.
  struct Console final : hv::IoHandler {
    std::string printed;
    void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
      if (port == 0xe9) printed.append(data.begin(), data.end());
    }
    void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override {
      if (port == 0x60) data[0] = 0x2a;  // the guest's IN gets 0x2a; other ports read all-ones
    }
    void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
    void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
  } console;
  auto exit = (*vcpu)->run(console);
  if (!exit) {
    std::fprintf(stderr, "run: %s\n", exit.error().to_string().c_str());
    return 1;
  }
  if (!std::holds_alternative<hv::HaltExit>(*exit)) {
    std::fprintf(stderr, "unexpected exit: %s\n", std::string(hv::exit_name(*exit)).c_str());
    return 1;
  }
  const std::string& printed = console.printed;
  const auto bl = (*vcpu)->get_registers()->rbx & 0xff;
  std::printf("guest printed \"%s\", read 0x%llx\n", printed.c_str(), static_cast<unsigned long long>(bl));
  return printed == "hi" && bl == 0x2a ? 0 : 1;
}
