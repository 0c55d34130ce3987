#pragma once
// The signal Vcpu::kick() sends to a vCPU thread inside KVM_RUN. Its handler does nothing: the signal
// exists only to make KVM_RUN return EINTR. The VMM chooses it (VmOptions::kick_signal, SIGRTMIN by
// default); hvkit then owns it. vCPU threads keep it blocked, and each vCPU's KVM signal mask unblocks
// it only while the thread is inside KVM_RUN, so a kick never interrupts the VMM's own system calls.

#include <csignal>

#include "hv/error.hpp"

namespace hv::kvm::detail {

// The kick signal when VmOptions::kick_signal is 0.
int default_kick_signal() noexcept;
// hv/detail/kick_signal.hpp: the installer every backend shares (one handler, so two backends in one
// process may use the same signal).
Result<int> install_kick_signal(int sig);
// Blocks `sig` in the calling thread and returns the thread's mask as it should be inside KVM_RUN:
// the previous mask without `sig`.
sigset_t block_kick_signal_in_this_thread(int sig);
// Consumes the kick signal `sig` pending in the calling thread. After a kick interrupts KVM_RUN, KVM
// restores the thread's mask (kick signal blocked) before the signal can be delivered, so it stays
// pending and would make every later KVM_RUN on this thread return EINTR at once.
void drain_kick_signal(int sig) noexcept;

}  // namespace hv::kvm::detail
