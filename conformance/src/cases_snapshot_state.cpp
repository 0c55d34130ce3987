// The vCPU state a snapshot carries beyond the registers (vCPU events, MP state, XCR0, debug
// registers): what the VMM sets it reads back unchanged, what it injects the guest sees, and values the
// architecture forbids are refused with InvalidArgument. A backend that reports the capability must
// implement it; one that does not is unsupported, with its reason.
#include <array>
#include <string>

#include "cases.hpp"
#include "hv/vcpu_state_checks.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

// Unsupported (the capability's reason) when the backend lacks it; otherwise `call` must not be
// Unsupported: a capability the backend claims is one it implements.
template <class R>
CaseResult claimed(Hypervisor& hypervisor, Capability capability, const R& result, std::string_view during) {
  if (result) return CaseResult::pass();
  auto has = hypervisor.capability(capability);
  if (!has) return from_error(has.error(), to_string(capability));
  return CaseResult::fail(
      why(during, " failed although the backend reports ", to_string(capability), ": ", result.error().to_string()));
}

// NOLINTBEGIN(cppcoreguidelines-macro-usage): returns from the calling case, which no function can do.
#define CONF_CLAIMED(capability, expr, during)                                         \
  do {                                                                                 \
    auto&& conf_c_ = (expr);                                                           \
    if (!conf_c_) return claimed(hypervisor, Capability::capability, conf_c_, during); \
  } while (0)
// NOLINTEND(cppcoreguidelines-macro-usage)

template <class R>
bool invalid_argument(const R& result) {
  return !result && result.error().kind() == ErrorKind::InvalidArgument;
}

std::string describe(const VcpuEvents& e) {
  return why("{exception ", e.exception.injected, "/", int{e.exception.vector}, "/", e.exception.has_error_code, "/",
             hex(e.exception.error_code), ", interrupt ", e.interrupt.injected, "/", int{e.interrupt.vector}, ", nmi ",
             e.nmi_injected, "/", e.nmi_pending, "/", e.nmi_masked, ", shadow ", e.interrupt_shadow, "}");
}

// XCR0 beyond x87 needs CPUID leaf 0xD (KVM checks XCR0 against it): the host's table where the
// backend lists one; otherwise (MSHV keeps its own defaults and takes per-leaf overrides) just leaf
// 0xD subleaf 0 with x87 | SSE, which every x86-64 CPU with XSAVE has.
Result<void> offer_xsave(Hypervisor& hypervisor, Vcpu& cpu) {
  auto cpuid = hypervisor.supported_cpuid();
  if (!cpuid && cpuid.error().kind() == ErrorKind::Unsupported) {
    cpuid = std::vector<CpuidEntry>{
        {.function = 0xd, .index = 0, .index_significant = true, .eax = 0x3, .ebx = 0x240, .ecx = 0x240, .edx = 0}};
  }
  if (!cpuid) return tl::unexpected(cpuid.error());
  return cpu.set_cpuid(*cpuid);
}

}  // namespace

CaseResult vcpu_events_roundtrip(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  CONF_CLAIMED(VcpuEvents, cpu.get_vcpu_events(), "get_vcpu_events");
  // One event at a time: MSHV's pending-interruption register holds one.
  std::array<VcpuEvents, 3> wanted{};
  wanted[0].exception = {.injected = true, .vector = 13, .has_error_code = true, .error_code = 0x1234};
  wanted[0].interrupt_shadow = true;
  wanted[1].interrupt = {.injected = true, .vector = 0x41};
  wanted[1].nmi_masked = true;
  wanted[2].nmi_injected = true;
  for (const auto& w : wanted) {
    CONF_CLAIMED(VcpuEvents, cpu.set_vcpu_events(w), "set_vcpu_events");
    auto back = cpu.get_vcpu_events();
    CONF_TRY(back, "get_vcpu_events");
    CONF_CHECK(*back == w, "set ", describe(w), ", read back ", describe(*back));
  }
  CONF_TRY(cpu.set_vcpu_events({}), "set_vcpu_events (none)");
  VcpuEvents bad;
  bad.exception = {.injected = true, .vector = 32};
  CONF_CHECK(invalid_argument(cpu.set_vcpu_events(bad)), "exception vector 32 was not refused as InvalidArgument");
  bad.exception = {.injected = true, .vector = 6 /*#UD*/, .has_error_code = true};
  CONF_CHECK(invalid_argument(cpu.set_vcpu_events(bad)), "#UD with an error code was not refused as InvalidArgument");
  return CaseResult::pass();
}

CaseResult injected_interrupt_reaches_handler(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "injected_interrupt"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto ready = (*t)->run(0, {}, {.stop_on_report = 0x12});
  CONF_CHECK(ready.reports() == std::vector<std::uint64_t>{0x12}, "guest did not report ready");
  auto events = cpu.get_vcpu_events();
  CONF_CLAIMED(VcpuEvents, events, "get_vcpu_events");
  events->interrupt = {.injected = true, .vector = 0x41};
  CONF_CLAIMED(VcpuEvents, cpu.set_vcpu_events(*events), "set_vcpu_events");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{0x41}, "the guest's handler for the injected vector 0x41 ",
             trace.reports().empty() ? "did not run" : "reported something else");
  return CaseResult::pass();
}

CaseResult mp_state_roundtrip(Hypervisor& hypervisor) {
  // KVM keeps every state but Runnable in its in-kernel LAPIC.
  auto t = TestVm::boot(hypervisor, {.guest = "halt", .vm_options = {.in_kernel_irqchip = true}});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto initial = cpu.get_mp_state();
  CONF_CLAIMED(MpState, initial, "get_mp_state");
  CONF_CHECK(*initial == MpState::Runnable, "vCPU 0 starts ", to_string(*initial), ", not runnable");
  for (const MpState s : {MpState::Halted, MpState::InitReceived, MpState::Runnable}) {
    CONF_CLAIMED(MpState, cpu.set_mp_state(s), why("set_mp_state(", to_string(s), ")"));
    auto back = cpu.get_mp_state();
    CONF_TRY(back, "get_mp_state");
    CONF_CHECK(*back == s, "set MP state ", to_string(s), ", read back ", to_string(*back));
  }
  return CaseResult::pass();
}

CaseResult xcrs_roundtrip(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  auto initial = cpu.get_xcrs();
  CONF_CLAIMED(Xcrs, initial, "get_xcrs");
  CONF_CHECK(initial->xcr0 == 1, "XCR0 starts at ", hex(initial->xcr0), ", not 1 (x87 only)");
  CONF_TRY(offer_xsave(hypervisor, cpu), "set_cpuid");
  CONF_CLAIMED(Xcrs, cpu.set_xcrs({.xcr0 = 0x3}), "set_xcrs(x87 | SSE)");
  auto back = cpu.get_xcrs();
  CONF_TRY(back, "get_xcrs");
  CONF_CHECK(back->xcr0 == 0x3, "set XCR0 0x3, read back ", hex(back->xcr0));
  CONF_CHECK(invalid_argument(cpu.set_xcrs({.xcr0 = 0x2})), "XCR0 without x87 was not refused as InvalidArgument");
  CONF_CHECK(invalid_argument(cpu.set_xcrs({.xcr0 = 0x5})), "XCR0 AVX without SSE was not refused as InvalidArgument");
  return CaseResult::pass();
}

CaseResult debug_registers_roundtrip(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  auto& cpu = (*t)->vcpu();
  CONF_CLAIMED(DebugRegisters, cpu.get_debug_registers(), "get_debug_registers");
  DebugRegisters wanted;
  wanted.dr = {0x1000, 0x2008, 0xffff800000003010ULL, 0x7ff000};
  wanted.dr6 = 0xffff0ff1;  // B0 (breakpoint 0 hit) with the bits that read as 1
  wanted.dr7 = 0x000f0402;  // G0 (breakpoint 0 enabled), R/W0 = 11 and LEN0 = 11 (8-byte data access)
  CONF_CLAIMED(DebugRegisters, cpu.set_debug_registers(wanted), "set_debug_registers");
  auto back = cpu.get_debug_registers();
  CONF_TRY(back, "get_debug_registers");
  CONF_CHECK(*back == wanted, "set DR0 ", hex(wanted.dr[0]), " DR3 ", hex(wanted.dr[3]), " DR6 ", hex(wanted.dr6),
             " DR7 ", hex(wanted.dr7), "; read back DR0 ", hex(back->dr[0]), " DR1 ", hex(back->dr[1]), " DR2 ",
             hex(back->dr[2]), " DR3 ", hex(back->dr[3]), " DR6 ", hex(back->dr6), " DR7 ", hex(back->dr7));
  DebugRegisters bad = wanted;
  bad.dr7 = 1ULL << 32;
  CONF_CHECK(invalid_argument(cpu.set_debug_registers(bad)), "DR7 bit 32 was not refused as InvalidArgument");
  CONF_TRY(cpu.set_debug_registers({}), "set_debug_registers (reset values)");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
