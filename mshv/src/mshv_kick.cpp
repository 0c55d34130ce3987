#include "mshv_kick.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bitset>
#include <cerrno>
#include <chrono>
#include <exception>
#include <system_error>

#include "hv/detail/kick_signal.hpp"

namespace hv::mshv::detail {

namespace {
pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }
}  // namespace

int default_mshv_kick_signal() noexcept { return SIGRTMIN + 1; }

Result<int> install_mshv_kick_signal(int sig) { return hv::detail::install_kick_signal(sig); }

// The kick signal must reach a thread inside run(): a VMM may have blocked it there. Once per thread
// and signal (a syscall per exit would cost more than the exit).
void unblock_kick_signal_in_this_thread(int sig) noexcept {
  thread_local std::bitset<NSIG> unblocked;
  if (unblocked.test(static_cast<std::size_t>(sig))) return;
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
  unblocked.set(static_cast<std::size_t>(sig));
}

Result<void> KickResender::start() noexcept {
  constexpr const char* op = "Vm::create_vcpu: starting the kick resender thread";
  try {
    thread_ = std::thread([this] { resend(); });
    return {};
  } catch (const std::system_error& e) {
    const int err = e.code().value();
    if (err == EAGAIN) return fail(ErrorKind::ResourceExhausted, op, e.what());
    return fail_errno(op, err, e.what());
  } catch (const std::exception& e) {  // std::bad_alloc: no memory for the thread's state
    return fail(ErrorKind::ResourceExhausted, op, e.what());
  }
}

KickResender::~KickResender() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void KickResender::kick() noexcept {
  {
    std::lock_guard lock(mutex_);
    pending_.store(true, std::memory_order_seq_cst);
  }
  cv_.notify_all();
}

// Signals the thread inside run() every millisecond while a kick is pending: one signal can land
// between run()'s check and the RUN_VP ioctl and be lost; the next one interrupts the ioctl.
void KickResender::resend() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait(lock, [this] { return stopping_ || (pending_.load() && running_tid_.load() != 0); });
    while (!stopping_ && pending_.load() && running_tid_.load() != 0) {
      ::syscall(SYS_tgkill, ::getpid(), running_tid_.load(), signal_);
      cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
}

KickResender::Running::Running(KickResender& kicks) : kicks_(kicks) {
  unblock_kick_signal_in_this_thread(kicks_.signal_);
  bool kick_waiting = false;
  {
    std::lock_guard lock(kicks_.mutex_);
    kicks_.running_tid_.store(this_thread_id());
    kick_waiting = kicks_.pending_.load();
  }
  // A kick that came before run() now has a thread to signal; otherwise the resender sleeps on
  // (waking it on every exit would cost a context switch per exit).
  if (kick_waiting) kicks_.cv_.notify_all();
}

KickResender::Running::~Running() {
  std::lock_guard lock(kicks_.mutex_);
  kicks_.running_tid_.store(0);
}

}  // namespace hv::mshv::detail
