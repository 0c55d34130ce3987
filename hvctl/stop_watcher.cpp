#include "stop_watcher.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace hvctl {

namespace {

const char* signal_name(int signo) { return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (const int signo : {SIGINT, SIGTERM}) {
    struct sigaction current {};
    if (::sigaction(signo, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) sigaddset(&signals, signo);
  }
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

tl::expected<std::unique_ptr<StopWatcher>, std::string> StopWatcher::start(const sigset_t& signals,
                                                                           std::chrono::seconds timeout,
                                                                           OnStop on_stop) {
  hv::UniqueFd signal_fd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd) return tl::unexpected(std::string("signalfd: ") + std::strerror(errno));
  auto done = hv::EventFd::create();
  if (!done) return tl::unexpected(done.error().to_string());
  std::unique_ptr<StopWatcher> watcher(
      new StopWatcher(std::move(signal_fd), std::move(*done), timeout, std::move(on_stop)));
  try {
    watcher->thread_ = std::thread([w = watcher.get()] { w->watch(); });
  } catch (const std::system_error& e) {
    return tl::unexpected(std::string("cannot start the watcher thread: ") + e.what());
  }
  return watcher;
}

StopWatcher::StopWatcher(hv::UniqueFd signal_fd, hv::EventFd done, std::chrono::seconds timeout, OnStop on_stop)
    : signal_fd_(std::move(signal_fd)), done_(std::move(done)), timeout_(timeout), on_stop_(std::move(on_stop)) {}

StopWatcher::~StopWatcher() {
  if (!thread_.joinable()) return;
  (void)done_.signal();  // fails only when the counter is full, and then the watcher is woken already
  thread_.join();
}

void StopWatcher::watch() {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout_;
  pollfd fds[2] = {{.fd = signal_fd_.get(), .events = POLLIN, .revents = 0},
                   {.fd = done_.fd(), .events = POLLIN, .revents = 0}};
  while (true) {
    int wait_ms = -1;  // no deadline
    if (timeout_.count() > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        on_stop_(kTimedOut, "timed out after " + std::to_string(timeout_.count()) + " s");
        return;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    if (::poll(fds, 2, wait_ms) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "hvctl run: poll: %s: no longer watching for SIGINT, SIGTERM or the timeout\n",
                   std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // the run is over
    if ((fds[0].revents & POLLIN) == 0) continue;
    signalfd_siginfo info{};
    if (::read(signal_fd_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    const int signo = static_cast<int>(info.ssi_signo);
    on_stop_(kSignalBase + signo, std::string("stopped by ") + signal_name(signo));
    return;
  }
}

}  // namespace hvctl
