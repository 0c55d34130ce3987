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

}  // namespace hv
