// The vCPU state a snapshot needs beyond the registers: events being delivered (KVM_GET/SET_VCPU_EVENTS),
// the MP state (KVM_GET/SET_MP_STATE), XCR0 (KVM_GET/SET_XCRS) and the debug registers
// (KVM_GET/SET_DEBUGREGS), each through hvkit's own types (Documentation/virt/kvm/api.rst).
#include <string>

#include <gsl/util>

#include "hv/vcpu_state_checks.hpp"
#include "kvm_abi.hpp"
#include "kvm_ioctl.hpp"
#include "kvm_vcpu.hpp"

namespace hv::kvm::detail {

namespace {

VcpuEvents from_kvm(const kvm_vcpu_events& k) noexcept {
  VcpuEvents e;
  // Without KVM_CAP_EXCEPTION_PAYLOAD (hvkit does not enable it) KVM reports a pending exception as
  // injected; `pending` is 0. Both mean "delivered on the next entry".
  e.exception.injected = k.exception.injected != 0 || k.exception.pending != 0;
  e.exception.vector = k.exception.nr;
  e.exception.has_error_code = k.exception.has_error_code != 0;
  e.exception.error_code = k.exception.error_code;
  e.interrupt.injected = k.interrupt.injected != 0;
  e.interrupt.vector = k.interrupt.nr;
  e.nmi_injected = k.nmi.injected != 0;
  e.nmi_pending = k.nmi.pending != 0;
  e.nmi_masked = k.nmi.masked != 0;
  e.interrupt_shadow = k.interrupt.shadow != 0;
  return e;
}

// `current` supplies what hvkit does not model (SMM, the SIPI vector); the flags tell KVM to take the
// NMI and shadow fields from this struct and to leave the SMM and SIPI state as it is. An interrupt is
// always set as external (soft = 0): hvkit's VcpuEvents has no software-interrupt kind, so an INTn
// that KVM reported mid-delivery (soft = 1) does not survive a get/set round trip as one — a known
// gap (docs/conformance.md, "vCPU state"); MSHV refuses software events instead.
kvm_vcpu_events to_kvm(const VcpuEvents& e, const kvm_vcpu_events& current) noexcept {
  kvm_vcpu_events k = current;
  k.exception.injected = e.exception.injected ? 1 : 0;
  k.exception.pending = 0;
  k.exception.nr = e.exception.injected ? e.exception.vector : 0;
  k.exception.has_error_code = e.exception.injected && e.exception.has_error_code ? 1 : 0;
  k.exception.error_code = e.exception.injected ? e.exception.error_code : 0;
  k.exception_has_payload = 0;
  k.exception_payload = 0;
  k.interrupt.injected = e.interrupt.injected ? 1 : 0;
  k.interrupt.nr = e.interrupt.injected ? e.interrupt.vector : 0;
  k.interrupt.soft = 0;
  // Keep the kind of shadow KVM reported (SVM reports both bits); a new one is MOV SS blocking, which
  // VMX accepts whatever RFLAGS.IF is (STI blocking with IF = 0 fails VM entry).
  if (!e.interrupt_shadow) {
    k.interrupt.shadow = 0;
  } else if (current.interrupt.shadow == 0) {
    k.interrupt.shadow = KVM_X86_SHADOW_INT_MOV_SS;
  }
  k.nmi.injected = e.nmi_injected ? 1 : 0;
  k.nmi.pending = e.nmi_pending ? 1 : 0;
  k.nmi.masked = e.nmi_masked ? 1 : 0;
  k.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
  return k;
}

Result<MpState> from_kvm_mp_state(__u32 state) {
  switch (state) {
    case KVM_MP_STATE_RUNNABLE: return MpState::Runnable;
    case KVM_MP_STATE_UNINITIALIZED: return MpState::Uninitialized;
    case KVM_MP_STATE_INIT_RECEIVED: return MpState::InitReceived;
    case KVM_MP_STATE_HALTED: return MpState::Halted;
    case KVM_MP_STATE_SIPI_RECEIVED: return MpState::SipiReceived;
    default:
      return fail(ErrorKind::Unsupported, "KVM_GET_MP_STATE",
                  "KVM MP state " + std::to_string(state) + " has no hvkit equivalent");
  }
}

__u32 to_kvm_mp_state(MpState state) noexcept {
  switch (state) {
    case MpState::Runnable: return KVM_MP_STATE_RUNNABLE;
    case MpState::Uninitialized: return KVM_MP_STATE_UNINITIALIZED;
    case MpState::InitReceived: return KVM_MP_STATE_INIT_RECEIVED;
    case MpState::Halted: return KVM_MP_STATE_HALTED;
    case MpState::SipiReceived: return KVM_MP_STATE_SIPI_RECEIVED;
  }
  return KVM_MP_STATE_RUNNABLE;
}

}  // namespace

Result<VcpuEvents> KvmVcpu::get_vcpu_events() const {
  kvm_vcpu_events k{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetVcpuEvents, "KVM_GET_VCPU_EVENTS", &k); !r)
    return tl::unexpected(r.error());
  return from_kvm(k);
}

Result<void> KvmVcpu::set_vcpu_events(const VcpuEvents& events) {
  if (auto r = check_vcpu_events(events, "Vcpu::set_vcpu_events"); !r) return r;
  kvm_vcpu_events current{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetVcpuEvents, "KVM_GET_VCPU_EVENTS", &current); !r)
    return tl::unexpected(r.error());
  kvm_vcpu_events k = to_kvm(events, current);
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetVcpuEvents, "KVM_SET_VCPU_EVENTS", &k); !r)
    return tl::unexpected(r.error());
  return {};
}

Result<MpState> KvmVcpu::get_mp_state() const {
  kvm_mp_state k{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetMpState, "KVM_GET_MP_STATE", &k); !r) return tl::unexpected(r.error());
  return from_kvm_mp_state(k.mp_state);
}

Result<void> KvmVcpu::set_mp_state(MpState state) {
  // KVM keeps INIT/SIPI and HLT waits in its in-kernel LAPIC; without one it refuses (EINVAL).
  if (state != MpState::Runnable && !config_.has_lapic) {
    return fail(ErrorKind::Unsupported, "Vcpu::set_mp_state",
                "MP state " + std::string(to_string(state)) + " needs VmOptions::in_kernel_irqchip on KVM");
  }
  kvm_mp_state k{.mp_state = to_kvm_mp_state(state)};
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetMpState, "KVM_SET_MP_STATE", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<ExtendedControlRegisters> KvmVcpu::get_xcrs() const {
  kvm_xcrs k{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetXcrs, "KVM_GET_XCRS", &k); !r) return tl::unexpected(r.error());
  for (__u32 i = 0; i < k.nr_xcrs && i < KVM_MAX_XCRS; ++i) {
    if (gsl::at(k.xcrs, i).xcr == 0) return ExtendedControlRegisters{.xcr0 = gsl::at(k.xcrs, i).value};
  }
  return fail(ErrorKind::Internal, "KVM_GET_XCRS", "the kernel reported no XCR0");
}

Result<void> KvmVcpu::set_xcrs(const ExtendedControlRegisters& xcrs) {
  // KVM checks XCR0 against the guest's CPUID leaf 0xD; checking here first names the reason.
  auto cpuid = get_cpuid();
  if (!cpuid) return tl::unexpected(cpuid.error());
  if (auto r = check_xcr0(xcrs.xcr0, *cpuid, "Vcpu::set_xcrs"); !r) return r;
  kvm_xcrs k{};
  k.nr_xcrs = 1;
  k.xcrs[0].xcr = 0;
  k.xcrs[0].value = xcrs.xcr0;
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetXcrs, "KVM_SET_XCRS", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<DebugRegisters> KvmVcpu::get_debug_registers() const {
  kvm_debugregs k{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetDebugRegs, "KVM_GET_DEBUGREGS", &k); !r) return tl::unexpected(r.error());
  DebugRegisters d;
  for (gsl::index i = 0; i < std::ssize(d.dr); ++i) gsl::at(d.dr, i) = gsl::at(k.db, i);
  d.dr6 = k.dr6;
  d.dr7 = k.dr7;
  return d;
}

Result<void> KvmVcpu::set_debug_registers(const DebugRegisters& debug) {
  if (auto r = check_debug_registers(debug, "Vcpu::set_debug_registers"); !r) return r;
  kvm_debugregs k{};  // flags and reserved must be 0
  for (gsl::index i = 0; i < std::ssize(debug.dr); ++i) gsl::at(k.db, i) = gsl::at(debug.dr, i);
  k.dr6 = debug.dr6;
  k.dr7 = debug.dr7;
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetDebugRegs, "KVM_SET_DEBUGREGS", &k); !r) return tl::unexpected(r.error());
  return {};
}

}  // namespace hv::kvm::detail
