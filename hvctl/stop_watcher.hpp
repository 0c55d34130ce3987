#pragma once
// Ends `hvctl run` from outside the guest: on SIGINT or SIGTERM, or when --timeout passes.
//
// No signal handler runs: block_stop_signals() blocks SIGINT and SIGTERM in the calling thread
// before any other thread exists (so every thread hvctl and the backends start inherits the mask,
// and the KVM backend, which unblocks only its own kick signal inside KVM_RUN, never takes them),
// and one watcher thread reads them from a signalfd. A signal that was ignored when hvctl started
// (SIGINT in a shell's background job) stays ignored.

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "hv/event_fd.hpp"
#include "hv/unique_fd.hpp"
#include <tl/expected.hpp>

namespace hvctl {

// The signals the watcher will read, now blocked in the calling thread.
sigset_t block_stop_signals();

class StopWatcher {
 public:
  // How hvctl ends a run it stopped: 124 for a timeout (timeout(1)'s convention), 128 + signo for a
  // signal (a shell's convention: 130 for SIGINT, 143 for SIGTERM).
  static constexpr int kTimedOut = 124, kSignalBase = 128;
  using OnStop = std::function<void(int status, std::string message)>;

  // Starts watching `signals` (from block_stop_signals) and, when `timeout` is non-zero, the clock.
  // The first event calls on_stop, once, from the watcher thread, which then stops watching: later
  // signals stay blocked while the machine stops.
  static tl::expected<std::unique_ptr<StopWatcher>, std::string> start(const sigset_t& signals,
                                                                       std::chrono::seconds timeout, OnStop on_stop);
  ~StopWatcher();  // stops watching and joins the thread
  StopWatcher(const StopWatcher&) = delete;
  StopWatcher& operator=(const StopWatcher&) = delete;

 private:
  StopWatcher(hv::UniqueFd signal_fd, hv::EventFd done, std::chrono::seconds timeout, OnStop on_stop);
  void watch();

  hv::UniqueFd signal_fd_;
  hv::EventFd done_;
  std::chrono::seconds timeout_;
  OnStop on_stop_;
  std::thread thread_;
};

}  // namespace hvctl
