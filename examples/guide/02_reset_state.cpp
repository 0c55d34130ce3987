// docs/guide.md, "The state a new vCPU starts in": a vCPU whose registers were never set is in the x86
// reset state on every backend and runs the code at 0xfffffff0; CPUID reports its own APIC id.
// Usage: guide_02_reset_state [BACKEND]
// Exit status: 0 when both vCPUs had the reset state, ran the reset vector and read their own APIC
// ids; 77 when BACKEND is not available here; 1 otherwise. Prints the whole initial state.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <variant>

#include "example.hpp"

namespace {

using guide::expect;
using guide::must;

// Keeps the last byte written to port 0x80.
class Port80 final : public hv::IoHandler {
 public:
  int value = -1;
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    if (port == 0x80) value = data[0];
  }
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
};

void print_segment(const char* name, const hv::Segment& s) {
  std::printf("  %-4s selector 0x%04x base 0x%08llx limit 0x%05x type %u s %d present %d\n", name, s.selector,
              static_cast<unsigned long long>(s.base), s.limit, s.type, s.s, s.present);
}

void print_state(hv::Vcpu& vcpu) {
  const auto r = must(vcpu.get_registers(), "get_registers");
  const auto s = must(vcpu.get_special_registers(), "get_special_registers");
  const auto fpu = must(vcpu.get_fpu(), "get_fpu");
  const auto cpuid = must(vcpu.get_cpuid(), "get_cpuid");
  std::printf("vCPU %u:\n  rip 0x%llx rflags 0x%llx rsp 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx\n",
              vcpu.id(), static_cast<unsigned long long>(r.rip), static_cast<unsigned long long>(r.rflags),
              static_cast<unsigned long long>(r.rsp), static_cast<unsigned long long>(r.rax),
              static_cast<unsigned long long>(r.rbx), static_cast<unsigned long long>(r.rcx),
              static_cast<unsigned long long>(r.rdx));
  print_segment("cs", s.cs);
  print_segment("ds", s.ds);
  print_segment("ss", s.ss);
  print_segment("es", s.es);
  print_segment("fs", s.fs);
  print_segment("gs", s.gs);
  print_segment("tr", s.tr);
  print_segment("ldt", s.ldt);
  std::printf("  gdt 0x%llx/0x%x idt 0x%llx/0x%x cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx apic_base 0x%llx\n",
              static_cast<unsigned long long>(s.gdt.base), s.gdt.limit, static_cast<unsigned long long>(s.idt.base),
              s.idt.limit, static_cast<unsigned long long>(s.cr0), static_cast<unsigned long long>(s.cr3),
              static_cast<unsigned long long>(s.cr4), static_cast<unsigned long long>(s.efer),
              static_cast<unsigned long long>(s.apic_base));
  std::printf("  fpu fcw 0x%x mxcsr 0x%x; get_cpuid: %zu entries\n", fpu.fcw, fpu.mxcsr, cpuid.size());
}

}  // namespace

int main(int argc, char** argv) {
  auto hypervisor = guide::open_backend(argc, argv);
  auto vm = must(hypervisor->create_vm(), "create_vm");

  // [guide:reset_vector]
  // Firmware: the 64 KiB below 4 GiB, where a vCPU in the reset state fetches its first instruction.
  auto firmware = must(hv::GuestRegion::create(0xffff0000, 0x10000), "create the firmware region");
  // At 0xfffffff0, the last 16 bytes below 4 GiB: jmp 0xff00 (CS base 0xffff0000, so 0xffffff00).
  constexpr std::array<std::uint8_t, 3> reset_vector = {0xE9, 0x0D, 0xFF};
  // At 0xffffff00: CPUID leaf 1, then EBX[31:24] (the APIC id) out to port 0x80, then halt.
  constexpr std::array<std::uint8_t, 17> report_apic_id = {
      0x66, 0xB8, 0x01, 0x00, 0x00, 0x00,  // mov eax, 1
      0x0F, 0xA2,                          // cpuid
      0x66, 0xC1, 0xEB, 0x18,              // shr ebx, 24
      0x88, 0xD8,                          // mov al, bl
      0xE6, 0x80,                          // out 0x80, al
      0xF4,                                // hlt
  };
  std::copy(reset_vector.begin(), reset_vector.end(), firmware->host().begin() + 0xfff0);
  std::copy(report_apic_id.begin(), report_apic_id.end(), firmware->host().begin() + 0xff00);
  must(vm->map_memory(firmware), "map the firmware region");
  // [/guide:reset_vector]

  for (const std::uint32_t id : {0U, 1U}) {
    // [guide:reset_state]
    auto vcpu = must(vm->create_vcpu(id), "create_vcpu");  // and set no register at all
    const hv::GeneralRegisters regs = must(vcpu->get_registers(), "get_registers");
    const hv::SpecialRegisters sregs = must(vcpu->get_special_registers(), "get_special_registers");
    expect(regs.rip == 0xfff0 && regs.rflags == 0x2, "reset state: RIP 0xfff0, RFLAGS 0x2");
    expect(sregs.cs.selector == 0xf000 && sregs.cs.base == 0xffff0000, "reset state: CS 0xf000 with base 0xffff0000");
    expect((sregs.cr0 & 0x80000001) == 0 && sregs.efer == 0,
           "reset state: real mode (CR0.PE and CR0.PG clear, EFER 0)");
    // [/guide:reset_state]
    expect(sregs.ds.selector == 0 && sregs.ds.base == 0 && sregs.ss.base == 0, "reset state: DS and SS at 0");
    print_state(*vcpu);

    // [guide:reset_run]
    Port80 port80;
    auto exit = must(vcpu->run(port80), "run");
    expect(std::holds_alternative<hv::HaltExit>(exit), "the reset vector's code ran to its HLT");
    expect(port80.value == static_cast<int>(id), "CPUID leaf 1 reports the vCPU's id as its APIC id");
    // [/guide:reset_run]
    std::printf("  ran 0xfffffff0 -> 0xffffff00, CPUID APIC id %d\n", port80.value);
  }
  std::printf("ok\n");
  return 0;
}
