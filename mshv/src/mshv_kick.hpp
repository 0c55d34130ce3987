#pragma once
// Kicking a VP out of MSHV_RUN_VP. RUN_VP has no immediate_exit, so a signal that lands between run()'s
// look at the kick flag and the ioctl would be lost: a resender thread repeats the kick signal to the
// thread inside run() every millisecond until run() takes the kick. The signal's handler is the one
// every backend shares (hv/detail/kick_signal.hpp).

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hv/error.hpp"

namespace hv::mshv::detail {

class KickResender {
 public:
  explicit KickResender(int signal) noexcept : signal_(signal) {}
  ~KickResender();
  KickResender(const KickResender&) = delete;  // pinned: the thread holds `this`
  KickResender& operator=(const KickResender&) = delete;

  // ResourceExhausted when no thread can be started (EAGAIN: RLIMIT_NPROC, the kernel's thread limit),
  // else the errno's kind. Never throws.
  Result<void> start() noexcept;
  void kick() noexcept;
  // Whether a kick is pending; takes it.
  bool take() noexcept { return pending_.exchange(false); }

  // While one exists, the constructing thread is inside run() and the one kicks are sent to. Its tid is
  // published and cleared under the resender's mutex, so no signal reaches the thread after it has left
  // run() (where it would interrupt the VMM's own system calls). Unblocks the signal in the thread.
  class Running {
   public:
    explicit Running(KickResender& kicks);
    ~Running();
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;

   private:
    KickResender& kicks_;
  };

 private:
  void resend();

  int signal_;
  std::atomic<bool> pending_{false};
  std::atomic<pid_t> running_tid_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// The MSHV kick signal when VmOptions::kick_signal is 0: SIGRTMIN + 1.
int default_mshv_kick_signal() noexcept;
// Installs the shared no-op kick handler for `sig` (hv/detail/kick_signal.hpp); Busy if the VMM
// already handles `sig`.
Result<int> install_mshv_kick_signal(int sig);
// Unblocks `sig` in the calling thread, once per thread and signal.
void unblock_kick_signal_in_this_thread(int sig) noexcept;

}  // namespace hv::mshv::detail
