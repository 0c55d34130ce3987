#include "kvm_kick_signal.hpp"

#include <csignal>
#include <pthread.h>

namespace hv::kvm::detail {

namespace {
extern "C" void ignore_kick(int /*signal*/) {}
}  // namespace

int kick_signal() noexcept {
  static const int signal_number = [] {
    const int sig = SIGRTMIN;
    struct sigaction action {};
    action.sa_handler = ignore_kick;
    sigemptyset(&action.sa_mask);
    // SA_RESTART keeps a kick that lands outside KVM_RUN from failing the VMM's other system calls;
    // KVM_RUN itself returns EINTR regardless.
    action.sa_flags = SA_RESTART;
    ::sigaction(sig, &action, nullptr);
    return sig;
  }();
  return signal_number;
}

void unblock_kick_signal_in_this_thread() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace hv::kvm::detail
