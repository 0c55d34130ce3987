#pragma once
// An eventfd: the doorbell behind irqfd (device -> guest interrupt) and ioeventfd (guest write -> device).

#include <chrono>
#include <cstdint>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"

namespace hv {

class EventFd {
 public:
  // Non-blocking, close-on-exec.
  static Result<EventFd> create();
  // A second descriptor for an eventfd someone else holds (F_DUPFD_CLOEXEC): for code that receives
  // eventfds by number, as a kernel does (the MSHV ABI simulator). BadDescriptor-style errors come back
  // as SystemError; whether `fd` is an eventfd is checked by whoever uses it.
  static Result<EventFd> duplicate(int fd);

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  Result<void> signal(std::uint64_t value = 1) const;
  // Reads and resets the counter; Busy when it is zero.
  Result<std::uint64_t> consume() const;
  // Waits up to `timeout` for the counter to become non-zero; true when it did.
  Result<bool> wait_for(std::chrono::milliseconds timeout) const;

 private:
  explicit EventFd(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace hv
