#include <string>

#include <gsl/util>

#include "hv/hypervisor.hpp"

namespace hv {

// The one place every backend's run() passes through: a second thread entering run() on a vCPU
// would race the first on the kernel's run state (KVM serialises KVM_RUN per vCPU and blocks; the
// MSHV ABI simulator would wait forever), so it is refused at once, the same way on every backend.
Result<Exit> Vcpu::run(IoHandler& io) {
  if (running_.exchange(true, std::memory_order_acquire)) {
    return fail(ErrorKind::Busy, "Vcpu::run", "vCPU " + std::to_string(id()) + " is already running on another thread");
  }
  const auto leave = gsl::finally([this] { running_.store(false, std::memory_order_release); });
  return run_guest(io);
}

namespace {
tl::unexpected<Error> not_implemented(std::string_view operation) {
  return fail(ErrorKind::Unsupported, operation, "this backend does not implement it");
}
}  // namespace

Result<VcpuEvents> Vcpu::get_vcpu_events() const { return not_implemented("Vcpu::get_vcpu_events"); }
Result<void> Vcpu::set_vcpu_events(const VcpuEvents&) { return not_implemented("Vcpu::set_vcpu_events"); }
Result<MpState> Vcpu::get_mp_state() const { return not_implemented("Vcpu::get_mp_state"); }
Result<void> Vcpu::set_mp_state(MpState) { return not_implemented("Vcpu::set_mp_state"); }
Result<ExtendedControlRegisters> Vcpu::get_xcrs() const { return not_implemented("Vcpu::get_xcrs"); }
Result<void> Vcpu::set_xcrs(const ExtendedControlRegisters&) { return not_implemented("Vcpu::set_xcrs"); }
Result<DebugRegisters> Vcpu::get_debug_registers() const { return not_implemented("Vcpu::get_debug_registers"); }
Result<void> Vcpu::set_debug_registers(const DebugRegisters&) { return not_implemented("Vcpu::set_debug_registers"); }

}  // namespace hv
