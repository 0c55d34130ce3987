// Register state the VMM sets is what the guest sees, and what the guest sets is what the VMM reads.
#include <array>

#include <gsl/gsl>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {
struct Gpr {
  std::uint64_t GeneralRegisters::*member;
  const char* name;
};
// In the order the guest's table lists them.
constexpr std::array<Gpr, 15> kGprs = {{{&GeneralRegisters::rax, "rax"},
                                        {&GeneralRegisters::rbx, "rbx"},
                                        {&GeneralRegisters::rcx, "rcx"},
                                        {&GeneralRegisters::rdx, "rdx"},
                                        {&GeneralRegisters::rsi, "rsi"},
                                        {&GeneralRegisters::rdi, "rdi"},
                                        {&GeneralRegisters::rbp, "rbp"},
                                        {&GeneralRegisters::r8, "r8"},
                                        {&GeneralRegisters::r9, "r9"},
                                        {&GeneralRegisters::r10, "r10"},
                                        {&GeneralRegisters::r11, "r11"},
                                        {&GeneralRegisters::r12, "r12"},
                                        {&GeneralRegisters::r13, "r13"},
                                        {&GeneralRegisters::r14, "r14"},
                                        {&GeneralRegisters::r15, "r15"}}};
}  // namespace

CaseResult reg_gprs_roundtrip(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_gprs"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto regs = cpu.get_registers();
  CONF_TRY(regs, "get_registers");
  std::uint64_t i = 0;
  for (const auto& gpr : kGprs) {
    (*regs).*gpr.member = 0xa000000000000000ULL | (i << 32) | (0x1111 * (i + 1));
    CONF_TRY((*t)->memory().write_obj(kScratch + 0x100 + 8 * i, 0x5000000000000000ULL | (i << 40) | i), "write table");
    ++i;
  }
  CONF_TRY(cpu.set_registers(*regs), "set_registers");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto after = cpu.get_registers();
  CONF_TRY(after, "get_registers");
  i = 0;
  for (const auto& gpr : kGprs) {
    auto seen = (*t)->memory().read_obj<std::uint64_t>(kScratch + 8 * i);
    CONF_TRY(seen, "read guest memory");
    CONF_CHECK(*seen == (*regs).*gpr.member, "guest saw ", gpr.name, " = ", hex(*seen), ", VMM set ",
               hex((*regs).*gpr.member));
    const std::uint64_t loaded = 0x5000000000000000ULL | (i << 40) | i;
    CONF_CHECK((*after).*gpr.member == loaded, "VMM read ", gpr.name, " = ", hex((*after).*gpr.member),
               ", guest loaded ", hex(loaded));
    ++i;
  }
  return CaseResult::pass();
}

CaseResult reg_rip_rflags(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_rip_rflags"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto regs = cpu.get_registers();
  CONF_TRY(regs, "get_registers");
  regs->rflags = 0x2 | 0x1 /*CF*/ | 0x40 /*ZF*/ | 0x800 /*OF*/;
  CONF_TRY(cpu.set_registers(*regs), "set_registers");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto seen = (*t)->memory().read_obj<std::uint64_t>(kScratch);
  CONF_TRY(seen, "read guest memory");
  CONF_CHECK((*seen & 0x8d5) == 0x841, "guest read RFLAGS ", hex(*seen), ", VMM set CF|ZF|OF");
  auto after = cpu.get_registers();
  CONF_TRY(after, "get_registers");
  CONF_CHECK((after->rflags & 0xc41) == 0xc40, "RFLAGS after CMC; STD is ", hex(after->rflags),
             ", expected ZF|DF|OF, CF clear");
  CONF_CHECK(after->rip == (*t)->image_end(), "RIP is ", hex(after->rip), ", expected ", hex((*t)->image_end()));
  return CaseResult::pass();
}

CaseResult reg_segments(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_segments"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto sregs = cpu.get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  sregs->fs.base = kScratch + 0x200;
  sregs->gs.base = kScratch + 0x300;
  CONF_TRY(cpu.set_special_registers(*sregs), "set_special_registers");
  CONF_TRY((*t)->memory().write_obj(kScratch + 0x200, std::uint64_t{0xf5f5f5f5f5f5f5f5ULL}), "write");
  CONF_TRY((*t)->memory().write_obj(kScratch + 0x308, std::uint64_t{0x6565656565656565ULL}), "write");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = cpu.get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rax == 0xf5f5f5f5f5f5f5f5ULL, "FS-relative read returned ", hex(regs->rax));
  CONF_CHECK(regs->rbx == 0x6565656565656565ULL, "GS-relative read returned ", hex(regs->rbx));
  CONF_CHECK((regs->rcx & 0xffff) == sregs->ds.selector, "guest read DS ", hex(regs->rcx), ", VMM set ",
             hex(sregs->ds.selector));
  auto after = cpu.get_special_registers();
  CONF_TRY(after, "get_special_registers");
  CONF_CHECK(after->fs == sregs->fs && after->gs == sregs->gs && after->cs == sregs->cs,
             "segments changed across the run");
  return CaseResult::pass();
}

CaseResult reg_control_registers(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_control_registers"});
  CONF_TRY(t, "boot");
  auto sregs = (*t)->vcpu().get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rax == sregs->cr0, "guest CR0 ", hex(regs->rax), ", VMM ", hex(sregs->cr0));
  CONF_CHECK(regs->rbx == sregs->cr3, "guest CR3 ", hex(regs->rbx), ", VMM ", hex(sregs->cr3));
  CONF_CHECK(regs->rcx == sregs->cr4, "guest CR4 ", hex(regs->rcx), ", VMM ", hex(sregs->cr4));
  CONF_CHECK(sregs->cr3 == kTables + kPageSize, "CR3 is not the PML4 enter_long_mode built");
  return CaseResult::pass();
}

CaseResult reg_efer(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_efer"});
  CONF_TRY(t, "boot");
  auto sregs = (*t)->vcpu().get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  std::array<MsrEntry, 1> efer = {{{msr::kEfer, 0}}};
  CONF_TRY((*t)->vcpu().get_msrs(efer), "get_msrs(EFER)");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rax == sregs->efer, "guest RDMSR(EFER) ", hex(regs->rax), ", VMM special registers ",
             hex(sregs->efer));
  CONF_CHECK(efer[0].value == sregs->efer, "get_msrs(EFER) ", hex(efer[0].value), " disagrees with special registers ",
             hex(sregs->efer));
  return CaseResult::pass();
}

CaseResult reg_gdt_idt(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_gdt_idt"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto sregs = cpu.get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  sregs->idt = {.base = 0x21000, .limit = 0xfff};
  CONF_TRY(cpu.set_special_registers(*sregs), "set_special_registers");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto gdt_limit = (*t)->memory().read_obj<std::uint16_t>(kScratch);
  auto gdt_base = (*t)->memory().read_obj<std::uint64_t>(kScratch + 2);
  auto idt_limit = (*t)->memory().read_obj<std::uint16_t>(kScratch + 0x10);
  auto idt_base = (*t)->memory().read_obj<std::uint64_t>(kScratch + 0x12);
  CONF_TRY(gdt_base, "read SGDT result");
  CONF_CHECK(*gdt_limit == sregs->gdt.limit && *gdt_base == sregs->gdt.base, "SGDT gave ", hex(*gdt_base), "/",
             hex(*gdt_limit), ", VMM set ", hex(sregs->gdt.base), "/", hex(sregs->gdt.limit));
  CONF_CHECK(*idt_limit == 0xfff && *idt_base == 0x21000, "SIDT gave ", hex(*idt_base), "/", hex(*idt_limit));
  auto after = cpu.get_special_registers();
  CONF_TRY(after, "get_special_registers");
  CONF_CHECK(after->idt.base == 0x22000 && after->idt.limit == 0x7ff, "after LIDT the VMM reads IDT ",
             hex(after->idt.base), "/", hex(after->idt.limit));
  return CaseResult::pass();
}

CaseResult reg_msr_tsc(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_msr_tsc"});
  CONF_TRY(t, "boot");
  constexpr std::uint64_t kStart = 1ULL << 40;
  const std::array<MsrEntry, 1> tsc = {{{msr::kTsc, kStart}}};
  CONF_TRY((*t)->vcpu().set_msrs(tsc), "set_msrs(TSC)");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  // The TSC counts on from the value set; 2^38 ticks is over a minute at any plausible frequency.
  CONF_CHECK(regs->rax >= kStart && regs->rax < kStart + (1ULL << 38), "guest RDTSC ", hex(regs->rax),
             " after the VMM set ", hex(kStart));
  return CaseResult::pass();
}

CaseResult reg_msr_sysenter(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_msr_sysenter"});
  CONF_TRY(t, "boot");
  const std::array<MsrEntry, 3> set = {{{msr::kSysenterCs, 0x10},
                                        {msr::kSysenterEsp, 0xffff800000001000ULL},
                                        {msr::kSysenterEip, 0xffffffff81000000ULL}}};
  CONF_TRY((*t)->vcpu().set_msrs(set), "set_msrs");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  std::uint64_t slot = kScratch;
  for (const auto& entry : set) {
    auto seen = (*t)->memory().read_obj<std::uint64_t>(slot);
    CONF_TRY(seen, "read guest memory");
    CONF_CHECK(*seen == entry.value, "guest RDMSR(", hex(entry.index), ") = ", hex(*seen), ", VMM set ",
               hex(entry.value));
    slot += 8;
  }
  std::array<MsrEntry, 3> get = {{{msr::kSysenterCs, 0}, {msr::kSysenterEsp, 0}, {msr::kSysenterEip, 0}}};
  CONF_TRY((*t)->vcpu().get_msrs(get), "get_msrs");
  const std::array<std::uint64_t, 3> written = {0x23, 0xffffffff81234000ULL, 0xffffffff81235000ULL};  // by WRMSR
  for (gsl::index i = 0; i < std::ssize(get); ++i) {
    const MsrEntry& seen = gsl::at(get, i);
    CONF_CHECK(seen.value == gsl::at(written, i), "VMM reads MSR ", hex(seen.index), " = ", hex(seen.value),
               ", guest wrote ", hex(gsl::at(written, i)));
  }
  return CaseResult::pass();
}

CaseResult reg_fpu_state(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "reg_fpu"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto fpu = cpu.get_fpu();
  CONF_TRY(fpu, "get_fpu");
  fpu->xmm[3] = {0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a};
  fpu->mxcsr = 0x7f80;
  CONF_TRY(cpu.set_fpu(*fpu), "set_fpu");
  // The image FXRSTOR loads: default x87 state, MXCSR 0x1fc0 (DAZ), XMM7 = 0x77 bytes.
  std::array<std::uint8_t, 512> image{};
  image[0] = 0x7f;
  image[1] = 0x03;
  image[24] = 0xc0;
  image[25] = 0x1f;
  image[28] = 0xff;  // MXCSR_MASK
  image[29] = 0xff;
  std::fill_n(image.begin() + 160 + std::ptrdiff_t{7} * 16, 16, std::uint8_t{0x77});
  CONF_TRY((*t)->memory().write(kScratch + 0x400, image), "write FXRSTOR image");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto mxcsr = (*t)->memory().read_obj<std::uint32_t>(kScratch + 24);
  auto xmm3 = (*t)->memory().read_obj<std::uint64_t>(kScratch + 160 + std::uint64_t{3} * 16);
  CONF_TRY(xmm3, "read FXSAVE image");
  CONF_CHECK(*mxcsr == 0x7f80, "guest FXSAVE shows MXCSR ", hex(*mxcsr), ", VMM set 0x7f80");
  CONF_CHECK(*xmm3 == 0x9abcdef012345678ULL, "guest FXSAVE shows XMM3 ", hex(*xmm3));
  auto after = cpu.get_fpu();
  CONF_TRY(after, "get_fpu");
  CONF_CHECK(after->mxcsr == 0x1fc0, "VMM reads MXCSR ", hex(after->mxcsr), " after the guest's FXRSTOR of 0x1fc0");
  CONF_CHECK(after->xmm[7][0] == 0x77 && after->xmm[7][15] == 0x77, "VMM reads XMM7 byte ", hex(after->xmm[7][0]));
  return CaseResult::pass();
}

CaseResult cpuid_values_reach_guest(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "cpuid_values"});
  CONF_TRY(t, "boot");
  // The table to start from. A hypervisor that keeps its own CPUID defaults and takes per-leaf
  // overrides (MSHV registers intercept results leaf by leaf) cannot list them: start from nothing.
  auto cpuid = hypervisor.supported_cpuid();
  if (!cpuid && cpuid.error().kind() == ErrorKind::Unsupported) cpuid = std::vector<CpuidEntry>{};
  CONF_TRY(cpuid, "supported_cpuid");
  std::erase_if(*cpuid, [](const CpuidEntry& e) { return e.function == 0x40000000; });
  cpuid->push_back({.function = 0x40000000,
                    .index = 0,
                    .index_significant = false,
                    .eax = 0x40000000,
                    .ebx = 0x696b7668 /* "hvki" */,
                    .ecx = 0x6e6f6374 /* "tcon" */,
                    .edx = 0x00000066});
  CONF_TRY((*t)->vcpu().set_cpuid(*cpuid), "set_cpuid");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rax == 0x40000000 && regs->rbx == 0x696b7668 && regs->rcx == 0x6e6f6374 && regs->rdx == 0x66,
             "guest CPUID(0x40000000) = ", hex(regs->rax), " ", hex(regs->rbx), " ", hex(regs->rcx), " ",
             hex(regs->rdx));
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
