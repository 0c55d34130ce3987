// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The vCPU state a snapshot needs beyond the registers, as Hyper-V registers: the pending
// interruption and interrupt state (vCPU events), the internal activity state (MP state), XFEM (XCR0)
// and DR0-DR3/DR6/DR7, read and written as rust-vmm mshv-ioctls' get/set_vcpu_events, get/set_xcrs
// and get/set_debug_regs do [§7, RV].
#include "mshv_vcpu_state.hpp"

#include <array>
#include <string>

#include "hv/vcpu_state_checks.hpp"
#include "mshv_registers.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;
namespace pi = abi::pending_interruption;
namespace is = abi::interrupt_state;
namespace ia = abi::internal_activity;

namespace {
constexpr std::uint8_t kNmiVector = 2;

std::uint64_t encode_event(std::uint64_t type, std::uint64_t vector) {
  return pi::kPending | (type << pi::kTypeShift) | (vector << pi::kVectorShift);
}
}  // namespace

Result<EventRegisters> to_event_registers(const VcpuEvents& e) {
  constexpr const char* kOp = "Vcpu::set_vcpu_events";
  if (e.nmi_pending) {
    return fail(ErrorKind::Unsupported, kOp,
                "MSHV keeps a latched NMI in its virtual APIC, not in the VP's registers (nmi_pending)");
  }
  const int injected = int{e.exception.injected} + int{e.interrupt.injected} + int{e.nmi_injected};
  if (injected > 1) {
    return fail(ErrorKind::Unsupported, kOp,
                "MSHV's pending-interruption register holds one event; more than one is injected");
  }
  EventRegisters out;
  if (e.exception.injected) {
    out.pending_interruption = encode_event(pi::kTypeException, e.exception.vector);
    if (e.exception.has_error_code) {
      out.pending_interruption |=
          pi::kDeliverErrorCode | (std::uint64_t{e.exception.error_code} << pi::kErrorCodeShift);
    }
  } else if (e.nmi_injected) {
    out.pending_interruption = encode_event(pi::kTypeNmi, kNmiVector);
  } else if (e.interrupt.injected) {
    out.pending_interruption = encode_event(pi::kTypeInterrupt, e.interrupt.vector);
  }
  out.interrupt_state = (e.interrupt_shadow ? is::kInterruptShadow : 0) | (e.nmi_masked ? is::kNmiMasked : 0);
  return out;
}

Result<VcpuEvents> from_event_registers(const EventRegisters& r) {
  constexpr const char* kOp = "Vcpu::get_vcpu_events";
  VcpuEvents e;
  e.interrupt_shadow = (r.interrupt_state & is::kInterruptShadow) != 0;
  e.nmi_masked = (r.interrupt_state & is::kNmiMasked) != 0;
  const std::uint64_t p = r.pending_interruption;
  if ((p & pi::kPending) == 0) return e;
  const std::uint64_t type = (p >> pi::kTypeShift) & pi::kTypeMask;
  const std::uint64_t vector = (p >> pi::kVectorShift) & pi::kVectorMask;
  if (vector > 0xff) return fail(ErrorKind::Internal, kOp, "pending interruption vector " + hex(vector) + " > 255");
  switch (type) {
    case pi::kTypeInterrupt: e.interrupt = {.injected = true, .vector = static_cast<std::uint8_t>(vector)}; return e;
    case pi::kTypeNmi: e.nmi_injected = true; return e;
    case pi::kTypeException:
      e.exception = {.injected = true,
                     .vector = static_cast<std::uint8_t>(vector),
                     .has_error_code = (p & pi::kDeliverErrorCode) != 0,
                     .error_code = static_cast<std::uint32_t>(p >> pi::kErrorCodeShift)};
      return e;
    default:
      return fail(
          ErrorKind::Unsupported, kOp,
          "pending interruption of type " + std::to_string(type) + " (a software event) has no hvkit equivalent");
  }
}

Result<std::uint64_t> to_internal_activity(MpState state) {
  switch (state) {
    case MpState::Runnable: return std::uint64_t{0};
    case MpState::InitReceived: return ia::kStartupSuspend;
    case MpState::Halted: return ia::kHaltSuspend;
    case MpState::Uninitialized:
    case MpState::SipiReceived: break;
  }
  return fail(ErrorKind::Unsupported, "Vcpu::set_mp_state",
              "MSHV's internal activity state has no " + std::string(to_string(state)) +
                  " (only startup suspend, halt suspend and idle suspend)");
}

Result<MpState> from_internal_activity(std::uint64_t value) {
  if (value == 0) return MpState::Runnable;
  if (value == ia::kStartupSuspend) return MpState::InitReceived;
  if (value == ia::kHaltSuspend) return MpState::Halted;
  return fail(
      ErrorKind::Unsupported, "Vcpu::get_mp_state",
      "internal activity state " + hex(value) + " (idle suspend, or more than one bit) has no hvkit equivalent");
}

// --- The VP's registers -------------------------------------------------------------------------------

Result<VcpuEvents> MshvVcpu::get_vcpu_events() const {
  const std::array<std::uint32_t, 4> names = {reg::kPendingInterruption, reg::kInterruptState, reg::kPendingEvent0,
                                              reg::kPendingEvent1};
  std::array<abi::HvRegisterValue, 4> values{};
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return tl::unexpected(r.error());
  // Events the hypervisor has queued for itself (an exception with a payload, a virtualization fault);
  // hvkit has no field for them, and dropping one would change the guest [§7.1].
  for (std::size_t i = 2; i < values.size(); ++i) {
    if ((values.at(i).low & abi::pending_event::kPending) != 0) {
      return fail(ErrorKind::Unsupported, "Vcpu::get_vcpu_events",
                  "HV_REGISTER_PENDING_EVENT" + std::to_string(i - 2) + " holds an event hvkit does not model");
    }
  }
  return from_event_registers({.pending_interruption = values[0].low, .interrupt_state = values[1].low});
}

Result<void> MshvVcpu::set_vcpu_events(const VcpuEvents& events) {
  if (auto r = check_vcpu_events(events, "Vcpu::set_vcpu_events"); !r) return r;
  auto regs = to_event_registers(events);
  if (!regs) return tl::unexpected(regs.error());
  const std::array assocs = {assoc(reg::kPendingInterruption, regs->pending_interruption),
                             assoc(reg::kInterruptState, regs->interrupt_state)};
  return set(assocs);
}

Result<MpState> MshvVcpu::get_mp_state() const {
  const std::uint32_t name = reg::kInternalActivityState;
  abi::HvRegisterValue value{};
  if (auto r = get_vp_registers(vp_, index_, std::span(&name, 1), std::span(&value, 1)); !r)
    return tl::unexpected(r.error());
  return from_internal_activity(value.low);
}

Result<void> MshvVcpu::set_mp_state(MpState state) {
  auto value = to_internal_activity(state);
  if (!value) return tl::unexpected(value.error());
  const std::array assocs = {assoc(reg::kInternalActivityState, *value)};
  return set(assocs);
}

Result<ExtendedControlRegisters> MshvVcpu::get_xcrs() const {
  const std::uint32_t name = reg::kXfem;
  abi::HvRegisterValue value{};
  if (auto r = get_vp_registers(vp_, index_, std::span(&name, 1), std::span(&value, 1)); !r)
    return tl::unexpected(r.error());
  return ExtendedControlRegisters{.xcr0 = value.low};
}

Result<void> MshvVcpu::set_xcrs(const ExtendedControlRegisters& xcrs) {
  // Checked against the CPUID results this VMM registered (the hypervisor's own are not readable).
  if (auto r = check_xcr0(xcrs.xcr0, cpuid_, "Vcpu::set_xcrs"); !r) return r;
  const std::array assocs = {assoc(reg::kXfem, xcrs.xcr0)};
  return set(assocs);
}

namespace {
constexpr std::array<std::uint32_t, 6> kDebugRegisterNames = {reg::kDr0, reg::kDr1, reg::kDr2,
                                                              reg::kDr3, reg::kDr6, reg::kDr7};
}  // namespace

Result<DebugRegisters> MshvVcpu::get_debug_registers() const {
  std::array<abi::HvRegisterValue, kDebugRegisterNames.size()> values{};
  if (auto r = get_vp_registers(vp_, index_, kDebugRegisterNames, values); !r) return tl::unexpected(r.error());
  DebugRegisters d;
  for (std::size_t i = 0; i < d.dr.size(); ++i) d.dr.at(i) = values.at(i).low;
  d.dr6 = values[4].low;
  d.dr7 = values[5].low;
  return d;
}

Result<void> MshvVcpu::set_debug_registers(const DebugRegisters& debug) {
  if (auto r = check_debug_registers(debug, "Vcpu::set_debug_registers"); !r) return r;
  const std::array assocs = {assoc(reg::kDr0, debug.dr[0]), assoc(reg::kDr1, debug.dr[1]),
                             assoc(reg::kDr2, debug.dr[2]), assoc(reg::kDr3, debug.dr[3]),
                             assoc(reg::kDr6, debug.dr6),   assoc(reg::kDr7, debug.dr7)};
  return set(assocs);
}

}  // namespace hv::mshv::detail
