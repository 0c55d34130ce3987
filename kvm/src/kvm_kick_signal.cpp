#include "kvm_kick_signal.hpp"

#include <cerrno>
#include <mutex>
#include <pthread.h>

namespace hv::kvm::detail {

namespace {
extern "C" void ignore_kick(int /*signal*/) {}
}  // namespace

Result<int> install_kick_signal() {
  static std::mutex mutex;
  static bool installed = false;
  std::lock_guard lock(mutex);
  const int sig = SIGRTMIN;
  if (installed) return sig;
  struct sigaction current {};
  if (::sigaction(sig, nullptr, &current) != 0) return fail_errno("sigaction(SIGRTMIN)", errno);
  const bool ours = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == ignore_kick;
  if (!ours && !((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL)) {
    return fail(ErrorKind::Busy, "install_kick_signal", "SIGRTMIN already has a handler; hvkit needs it to kick vCPUs");
  }
  struct sigaction action {};
  action.sa_handler = ignore_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(sig, &action, nullptr) != 0) return fail_errno("sigaction(SIGRTMIN)", errno);
  installed = true;
  return sig;
}

sigset_t block_kick_signal_in_this_thread() {
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, SIGRTMIN);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &kick, &previous);
  sigdelset(&previous, SIGRTMIN);
  return previous;
}

void drain_kick_signal() noexcept {
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, SIGRTMIN);
  const timespec no_wait{0, 0};
  // Real-time signals queue: take every instance, bounded in case of a kick storm.
  for (int i = 0; i < 64 && ::sigtimedwait(&kick, nullptr, &no_wait) > 0; ++i) {
  }
}

}  // namespace hv::kvm::detail
