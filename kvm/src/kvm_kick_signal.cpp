#include "kvm_kick_signal.hpp"

#include <bitset>
#include <cerrno>
#include <mutex>
#include <pthread.h>
#include <string>

namespace hv::kvm::detail {

namespace {
extern "C" void ignore_kick(int /*signal*/) {}
}  // namespace

int default_kick_signal() noexcept { return SIGRTMIN; }

Result<int> install_kick_signal(int sig) {
  static std::mutex mutex;
  static std::bitset<NSIG> installed;
  std::lock_guard lock(mutex);
  if (sig <= 0 || sig >= NSIG) return fail(ErrorKind::InvalidArgument, "install_kick_signal", "no such signal");
  if (installed.test(static_cast<std::size_t>(sig))) return sig;
  const std::string op = "sigaction(" + std::to_string(sig) + ")";
  struct sigaction current {};
  if (::sigaction(sig, nullptr, &current) != 0) return fail_errno(op, errno);
  const bool ours = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == ignore_kick;
  if (!ours && !((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL)) {
    return fail(ErrorKind::Busy, "install_kick_signal",
                "signal " + std::to_string(sig) + " already has a handler; hvkit needs it to kick vCPUs " +
                    "(VmOptions::kick_signal chooses another)");
  }
  struct sigaction action {};
  action.sa_handler = ignore_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(sig, &action, nullptr) != 0) return fail_errno(op, errno);
  installed.set(static_cast<std::size_t>(sig));
  return sig;
}

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
