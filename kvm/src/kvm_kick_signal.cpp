#include "kvm_kick_signal.hpp"

#include <pthread.h>

#include "hv/detail/kick_signal.hpp"

namespace hv::kvm::detail {

int default_kick_signal() noexcept { return SIGRTMIN; }

Result<int> install_kick_signal(int sig) { return hv::detail::install_kick_signal(sig); }

sigset_t block_kick_signal_in_this_thread(int sig) {
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, sig);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &kick, &previous);
  sigdelset(&previous, sig);
  return previous;
}

void drain_kick_signal(int sig) noexcept {
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, sig);
  const timespec no_wait{0, 0};
  // Real-time signals queue: take every instance, bounded in case of a kick storm.
  for (int i = 0; i < 64 && ::sigtimedwait(&kick, nullptr, &no_wait) > 0; ++i) {
  }
}

}  // namespace hv::kvm::detail
