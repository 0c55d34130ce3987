#include "hv/event_fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace hv {

Result<EventFd> EventFd::create() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return fail_errno("eventfd", errno);
  return EventFd(UniqueFd(fd));
}

Result<EventFd> EventFd::duplicate(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return fail_errno("fcntl(F_DUPFD_CLOEXEC)", errno);
  return EventFd(UniqueFd(copy));
}

Result<void> EventFd::signal(std::uint64_t value) const {
  for (;;) {
    if (::eventfd_write(fd_.get(), value) == 0) return {};
    if (errno != EINTR) return fail_errno("eventfd_write", errno);
  }
}

Result<std::uint64_t> EventFd::consume() const {
  for (;;) {
    eventfd_t value = 0;
    if (::eventfd_read(fd_.get(), &value) == 0) return value;
    if (errno == EAGAIN) return fail(ErrorKind::Busy, "eventfd_read", "counter is zero");
    if (errno != EINTR) return fail_errno("eventfd_read", errno);
  }
}

Result<bool> EventFd::wait_for(std::chrono::milliseconds timeout) const {
  if (timeout.count() < 0) return fail(ErrorKind::InvalidArgument, "EventFd::wait_for", "negative timeout");
  // Signals may interrupt poll() any number of times: wait against a deadline, not a fresh timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::min(timeout, std::chrono::milliseconds(INT32_MAX));
  pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (r >= 0) return r > 0;
    if (errno != EINTR) return fail_errno("poll(eventfd)", errno);
  }
}

}  // namespace hv
