// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The simulated hypervisor's event, activity, XFEM and debug registers [§7.1, §7.2], kept by the inner
// KVM vCPU: HV_REGISTER_PENDING_INTERRUPTION and INTERRUPT_STATE are its vCPU events, INTERNAL_ACTIVITY_STATE
// its MP state, XFEM its XCR0, DR0-DR3/DR6/DR7 its debug registers. What KVM keeps and Hyper-V does not
// (a latched NMI, SMM) is left as KVM has it. Invalid field values are HV_STATUS_INVALID_PARAMETER [INF:
// the status real Hyper-V returns for them was not checked].
#include <gsl/gsl>

#include "sim_registers.hpp"

namespace hv::mshv::sim {

namespace {

namespace reg = abi::reg;
namespace pi = abi::pending_interruption;
namespace is = abi::interrupt_state;
namespace ia = abi::internal_activity;

bool is_debug_register(std::uint32_t name) { return name >= reg::kDr0 && name <= reg::kDr7; }

std::uint64_t* debug_register(DebugRegisters& d, std::uint32_t name) {
  switch (name) {
    case reg::kDr0:
    case reg::kDr1:
    case reg::kDr2:
    case reg::kDr3: return &gsl::at(d.dr, name - reg::kDr0);
    case reg::kDr6: return &d.dr6;
    case reg::kDr7: return &d.dr7;
    default: return nullptr;
  }
}

std::uint64_t pending_interruption(const VcpuEvents& e) {
  const auto event = [](std::uint64_t type, std::uint64_t vector) {
    return pi::kPending | (type << pi::kTypeShift) | (vector << pi::kVectorShift);
  };
  if (e.exception.injected) {
    std::uint64_t v = event(pi::kTypeException, e.exception.vector);
    if (e.exception.has_error_code) {
      v |= pi::kDeliverErrorCode | (std::uint64_t{e.exception.error_code} << pi::kErrorCodeShift);
    }
    return v;
  }
  if (e.nmi_injected) return event(pi::kTypeNmi, 2);
  if (e.interrupt.injected) return event(pi::kTypeInterrupt, e.interrupt.vector);
  return 0;
}

// False for what the simulator does not model: reserved bits, software events, vectors above 255.
bool apply_pending_interruption(std::uint64_t v, VcpuEvents& e) {
  e.exception = {};
  e.interrupt = {};
  e.nmi_injected = false;
  if ((v & pi::kPending) == 0) return v == 0;
  if ((v & (pi::kReservedMask | pi::kNestedEvent)) != 0) return false;
  const std::uint64_t type = (v >> pi::kTypeShift) & pi::kTypeMask;
  const std::uint64_t vector = (v >> pi::kVectorShift) & pi::kVectorMask;
  if (vector > 0xff) return false;
  const bool error_code = (v & pi::kDeliverErrorCode) != 0;
  switch (type) {
    case pi::kTypeInterrupt:
      if (error_code) return false;
      e.interrupt = {.injected = true, .vector = static_cast<std::uint8_t>(vector)};
      return true;
    case pi::kTypeNmi:
      if (error_code || vector != 2) return false;
      e.nmi_injected = true;
      return true;
    case pi::kTypeException:
      e.exception = {.injected = true,
                     .vector = static_cast<std::uint8_t>(vector),
                     .has_error_code = error_code,
                     .error_code = error_code ? static_cast<std::uint32_t>(v >> pi::kErrorCodeShift) : 0};
      return true;
    default: return false;
  }
}

}  // namespace

bool RegisterBatch::is_vcpu_state(std::uint32_t name) const {
  return name == reg::kPendingInterruption || name == reg::kInterruptState || name == reg::kPendingEvent0 ||
         name == reg::kPendingEvent1 || name == reg::kInternalActivityState || name == reg::kXfem ||
         is_debug_register(name);
}

std::uint16_t RegisterBatch::get_vcpu_state(std::uint32_t name, abi::HvRegisterValue& value) {
  value = {};
  if (name == reg::kPendingEvent0 || name == reg::kPendingEvent1) return abi::kHvStatusSuccess;  // never queued
  if (name == reg::kPendingInterruption || name == reg::kInterruptState) {
    if (!events_) {
      auto e = vcpu_.get_vcpu_events();
      if (!e) return abi::kHvStatusInvalidVpState;
      events_ = *e;
    }
    value.low = name == reg::kPendingInterruption ? pending_interruption(*events_)
                                                  : (events_->interrupt_shadow ? is::kInterruptShadow : 0) |
                                                        (events_->nmi_masked ? is::kNmiMasked : 0);
    return abi::kHvStatusSuccess;
  }
  if (name == reg::kInternalActivityState) {
    if (!mp_state_) {
      auto m = vcpu_.get_mp_state();
      if (!m) return abi::kHvStatusInvalidVpState;
      mp_state_ = *m;
    }
    // An AP waiting for INIT or for its SIPI is in startup suspend; one given its SIPI is about to run.
    switch (*mp_state_) {
      case MpState::Halted: value.low = ia::kHaltSuspend; break;
      case MpState::Uninitialized:
      case MpState::InitReceived: value.low = ia::kStartupSuspend; break;
      case MpState::Runnable:
      case MpState::SipiReceived: value.low = 0; break;
    }
    return abi::kHvStatusSuccess;
  }
  if (name == reg::kXfem) {
    if (!xcrs_) {
      auto x = vcpu_.get_xcrs();
      if (!x) return abi::kHvStatusInvalidVpState;
      xcrs_ = *x;
    }
    value.low = xcrs_->xcr0;
    return abi::kHvStatusSuccess;
  }
  if (!debug_) {
    auto d = vcpu_.get_debug_registers();
    if (!d) return abi::kHvStatusInvalidVpState;
    debug_ = *d;
  }
  value.low = *debug_register(*debug_, name);
  return abi::kHvStatusSuccess;
}

std::uint16_t RegisterBatch::set_vcpu_state(std::uint32_t name, const abi::HvRegisterValue& value) {
  if (value.high != 0 && name != reg::kPendingEvent0 && name != reg::kPendingEvent1) {
    return abi::kHvStatusInvalidParameter;  // 64-bit registers
  }
  if (name == reg::kPendingEvent0 || name == reg::kPendingEvent1) {
    // The simulator queues no hypervisor events; clearing one is all it accepts.
    return (value.low & abi::pending_event::kPending) == 0 ? abi::kHvStatusSuccess : abi::kHvStatusInvalidParameter;
  }
  if (name == reg::kPendingInterruption || name == reg::kInterruptState) {
    if (!events_) {
      auto e = vcpu_.get_vcpu_events();
      if (!e) return abi::kHvStatusInvalidVpState;
      events_ = *e;
    }
    if (name == reg::kPendingInterruption) {
      if (!apply_pending_interruption(value.low, *events_)) return abi::kHvStatusInvalidParameter;
    } else {
      if ((value.low & is::kReservedMask) != 0) return abi::kHvStatusInvalidParameter;
      events_->interrupt_shadow = (value.low & is::kInterruptShadow) != 0;
      events_->nmi_masked = (value.low & is::kNmiMasked) != 0;
    }
    events_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if (name == reg::kInternalActivityState) {
    switch (value.low) {
      case 0: mp_state_ = MpState::Runnable; break;
      case ia::kStartupSuspend: mp_state_ = MpState::InitReceived; break;
      case ia::kHaltSuspend: mp_state_ = MpState::Halted; break;
      default: return abi::kHvStatusInvalidParameter;  // idle suspend, combinations, reserved bits
    }
    mp_state_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if (name == reg::kXfem) {
    xcrs_ = ExtendedControlRegisters{.xcr0 = value.low};
    xcrs_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if (!debug_) {
    auto d = vcpu_.get_debug_registers();
    if (!d) return abi::kHvStatusInvalidVpState;
    debug_ = *d;
  }
  *debug_register(*debug_, name) = value.low;
  debug_dirty_ = true;
  return abi::kHvStatusSuccess;
}

bool RegisterBatch::commit_vcpu_state() {
  bool ok = true;
  if (debug_dirty_ && debug_) ok = static_cast<bool>(vcpu_.set_debug_registers(*debug_)) && ok;
  if (xcrs_dirty_ && xcrs_) ok = static_cast<bool>(vcpu_.set_xcrs(*xcrs_)) && ok;
  if (events_dirty_ && events_) ok = static_cast<bool>(vcpu_.set_vcpu_events(*events_)) && ok;
  if (mp_state_dirty_ && mp_state_) ok = static_cast<bool>(vcpu_.set_mp_state(*mp_state_)) && ok;
  debug_dirty_ = xcrs_dirty_ = events_dirty_ = mp_state_dirty_ = false;
  return ok;
}

}  // namespace hv::mshv::sim
