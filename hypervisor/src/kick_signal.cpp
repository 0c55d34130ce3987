#include "hv/detail/kick_signal.hpp"

#include <signal.h>

#include <bitset>
#include <cerrno>
#include <mutex>
#include <string>

namespace hv::detail {

namespace {
extern "C" void ignore_kick(int /*signal*/) {}
}  // namespace

Result<int> install_kick_signal(int sig) {
  static std::mutex mutex;
  static std::bitset<NSIG> installed;
  std::lock_guard lock(mutex);
  if (sig <= 0 || sig >= NSIG) return fail(ErrorKind::InvalidArgument, "install_kick_signal", "no such signal");
  if (installed.test(static_cast<std::size_t>(sig))) return sig;
  const std::string op = "sigaction(" + std::to_string(sig) + ")";
  struct sigaction current {};
  if (::sigaction(sig, nullptr, &current) != 0) return fail_errno(op, errno);
  const bool plain = (current.sa_flags & SA_SIGINFO) == 0;
  if (!(plain && (current.sa_handler == SIG_DFL || current.sa_handler == ignore_kick))) {
    return fail(ErrorKind::Busy, "install_kick_signal",
                "signal " + std::to_string(sig) + " already has a handler; hvkit needs it to kick vCPUs " +
                    "(VmOptions::kick_signal chooses another)");
  }
  struct sigaction action {};
  action.sa_handler = ignore_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the run ioctl must return EINTR, not restart
  if (::sigaction(sig, &action, nullptr) != 0) return fail_errno(op, errno);
  installed.set(static_cast<std::size_t>(sig));
  return sig;
}

}  // namespace hv::detail
