#pragma once
// The descriptors a backend's device signals through: one call eventfd per ring (used buffers) and
// one error eventfd per ring (the device broke down), which SET_VRING_CALL / SET_VRING_ERR replace at
// any time while the device's threads may be signalling. Shared (std::shared_ptr) between the
// session and the DeviceSignals it hands the device, so a signal after the session went is harmless.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"

namespace hv::vhost {

// Whether `fd` is an eventfd (its /proc/self/fd link says so). A frontend could send a pipe, which a
// write blocks on once full, or a regular file or character device, which poll always reports
// readable: the session accepts only eventfds for kicks, calls and errors. True when /proc is not
// mounted (nothing to check against); the descriptor is made non-blocking either way.
Result<void> check_eventfd(int fd, const char* operation);

class CallTable {
 public:
  explicit CallTable(std::size_t rings) : call_(rings), err_(rings) {}

  void set_call(std::size_t ring, UniqueFd fd);
  void set_err(std::size_t ring, UniqueFd fd);
  // Used buffers on `ring`: one write to its call eventfd (none set: nothing, as for a polled ring).
  void used(std::size_t ring) const;
  // The device broke down: NEEDS_RESET from now on, and every error eventfd written.
  void broken();
  [[nodiscard]] bool needs_reset() const noexcept { return needs_reset_.load(std::memory_order_acquire); }
  void clear_needs_reset() noexcept { needs_reset_.store(false, std::memory_order_release); }
  // Closes every descriptor (a reset).
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<UniqueFd> call_;
  std::vector<UniqueFd> err_;
  std::atomic<bool> needs_reset_{false};
};

}  // namespace hv::vhost
