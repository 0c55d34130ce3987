#pragma once
// The one installer of the signal Vcpu::kick() sends to a vCPU thread inside the backend's run ioctl
// (KVM_RUN, MSHV_RUN_VP), shared by the backends. Its handler does nothing: the signal exists only to
// make the ioctl return EINTR. It is installed without SA_RESTART, so the ioctl is never restarted
// (MSHV_RUN_VP has no immediate_exit, the EINTR is the kick; KVM's vCPU threads keep the signal blocked
// outside KVM_RUN, so there it never reaches the handler at all). The VMM chooses the signal
// (VmOptions::kick_signal); hvkit then owns it, for every backend alike.

#include "hv/error.hpp"

namespace hv::detail {

// Installs the empty handler for `sig` once per process (again for the same signal: nothing to do).
// InvalidArgument for a number that is no signal; Busy if the VMM already handles `sig` itself.
Result<int> install_kick_signal(int sig);

}  // namespace hv::detail
