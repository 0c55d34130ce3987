#include <csignal>
#include <string>

#include "hv/hypervisor.hpp"

namespace hv {

Result<int> resolve_kick_signal(const VmOptions& options, int backend_default) {
  const int signal = options.kick_signal == 0 ? backend_default : options.kick_signal;
  if (signal < SIGRTMIN || signal > SIGRTMAX) {
    return fail(ErrorKind::InvalidArgument, "create_vm",
                "kick_signal " + std::to_string(signal) + " is not a real-time signal (" + std::to_string(SIGRTMIN) +
                    " to " + std::to_string(SIGRTMAX) + ")");
  }
  return signal;
}

}  // namespace hv
