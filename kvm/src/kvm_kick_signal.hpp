#pragma once
// The signal Vcpu::kick() sends to a vCPU thread inside KVM_RUN. Its handler does nothing: the signal
// exists only to make KVM_RUN return EINTR. hvkit owns this signal (SIGRTMIN); a VMM must not use it.

namespace hv::kvm::detail {

// Installs the empty handler once per process and returns the signal number.
int kick_signal() noexcept;
// Unblocks the kick signal in the calling thread, so a kick can interrupt KVM_RUN there.
void unblock_kick_signal_in_this_thread() noexcept;

}  // namespace hv::kvm::detail
