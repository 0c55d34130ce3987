// The README's usage example: open a backend, map memory, create a vCPU, run, handle IO exits.
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

  std::string printed;
  for (;;) {
    auto exit = (*vcpu)->run();
    if (!exit) {
      std::fprintf(stderr, "run: %s\n", exit.error().to_string().c_str());
      return 1;
    }
    if (auto* io = std::get_if<hv::IoExit>(&*exit)) {
      if (io->direction == hv::AccessDirection::Write) {
        printed.append(io->data.begin(), io->data.end());
      } else {
        const std::uint8_t key[] = {0x2a};
        if (!(*vcpu)->complete_read(key)) return 1;  // the guest's IN gets 0x2a
      }
    } else if (std::holds_alternative<hv::HaltExit>(*exit)) {
      break;
    } else {
      std::fprintf(stderr, "unexpected exit: %s\n", std::string(hv::exit_name(*exit)).c_str());
      return 1;
    }
  }
  const auto bl = (*vcpu)->get_registers()->rbx & 0xff;
  std::printf("guest printed \"%s\", read 0x%llx\n", printed.c_str(), static_cast<unsigned long long>(bl));
  return printed == "hi" && bl == 0x2a ? 0 : 1;
}
