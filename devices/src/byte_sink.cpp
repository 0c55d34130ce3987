#include "hv/dev/byte_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <unistd.h>

#include <gsl/gsl>

namespace hv::dev {

void FdSink::write(std::span<const std::uint8_t> bytes) {
  // The caller may be a vCPU thread inside a device: never block it on a slow or stalled reader.
  // A descriptor that is not writable right now loses these bytes (counted), as a UART line would.
  while (!bytes.empty()) {
    pollfd p{.fd = fd_, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) break;
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // gone (EPIPE, EBADF) or full
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  dropped_.fetch_add(bytes.size(), std::memory_order_relaxed);
}

void BufferSink::write(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  const std::size_t room = capacity_ - std::min(capacity_, data_.size());
  data_.append(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min(room, bytes.size())));
}

std::string BufferSink::contents() const {
  std::lock_guard lock(mutex_);
  return data_;
}

LimitedSink::LimitedSink(std::shared_ptr<ByteSink> inner, OutputLimits limits, Clock clock)
    : inner_(std::move(inner)),
      limits_(limits),
      clock_(std::move(clock)),
      tokens_(static_cast<double>(limits.max_bytes_per_second)),
      last_(clock_()) {
  Expects(inner_ != nullptr);
}

void LimitedSink::write(std::span<const std::uint8_t> bytes) {
  std::size_t allowed = bytes.size();
  {
    std::lock_guard lock(mutex_);
    if (limits_.max_total_bytes != 0) {
      allowed =
          std::min<std::uint64_t>(allowed, limits_.max_total_bytes - std::min(limits_.max_total_bytes, forwarded_));
    }
    if (limits_.max_bytes_per_second != 0) {
      const auto now = clock_();
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      last_ = now;
      const auto rate = static_cast<double>(limits_.max_bytes_per_second);
      tokens_ = std::min(rate, tokens_ + elapsed * rate);
      allowed = std::min<std::size_t>(allowed, static_cast<std::size_t>(tokens_));
      tokens_ -= static_cast<double>(allowed);
    }
    forwarded_ += allowed;
    dropped_ += bytes.size() - allowed;
  }
  if (allowed > 0) inner_->write(bytes.first(allowed));
}

std::uint64_t LimitedSink::forwarded() const {
  std::lock_guard lock(mutex_);
  return forwarded_;
}

std::uint64_t LimitedSink::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace hv::dev
