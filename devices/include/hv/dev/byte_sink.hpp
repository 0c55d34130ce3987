#pragma once
// Where a device's output goes (the UART's transmitter), with limits so a guest cannot fill the
// host's disk or flood a log. Devices share their sink (std::shared_ptr): whoever creates one may drop
// it once the devices have it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

namespace hv::dev {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::span<const std::uint8_t> bytes) = 0;
};

// Writes to a file descriptor (stdout, a log file) without ever blocking: bytes the descriptor cannot
// take right now (a stalled pipe reader, a closed pipe) are dropped and counted.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) noexcept : fd_(fd) {}
  void write(std::span<const std::uint8_t> bytes) override;
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  int fd_;
  std::atomic<std::uint64_t> dropped_{0};
};

// Keeps everything in memory, up to a bound: for tests and small captures.
class BufferSink final : public ByteSink {
 public:
  explicit BufferSink(std::size_t capacity = 1 << 20) : capacity_(capacity) {}
  void write(std::span<const std::uint8_t> bytes) override;
  std::string contents() const;

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::string data_;
};

struct OutputLimits {
  std::uint64_t max_total_bytes = 0;       // 0: unlimited
  std::uint64_t max_bytes_per_second = 0;  // 0: unlimited; bursts up to one second's worth
};

// Limits for a guest console that reaches a terminal, a pipe or a file (`hvctl run`'s defaults):
// 64 MiB in all and 1 MiB/s. A normal guest never meets them — a 115200-baud serial line carries
// 11.5 KB/s and a verbose Linux boot log is well under 1 MiB — while a flooding guest writes at most
// 64 MiB to the host per run (and needs a minute at the rate to get there).
inline constexpr OutputLimits kDefaultConsoleLimits{.max_total_bytes = 64ULL << 20, .max_bytes_per_second = 1ULL << 20};

// Forwards to `inner` within the limits and drops (and counts) the rest. The guest never blocks.
// Shares `inner` (not null): the limiter keeps its destination alive for as long as it exists.
class LimitedSink final : public ByteSink {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  LimitedSink(std::shared_ptr<ByteSink> inner, OutputLimits limits, Clock clock = std::chrono::steady_clock::now);
  void write(std::span<const std::uint8_t> bytes) override;
  std::uint64_t forwarded() const;
  std::uint64_t dropped() const;

 private:
  std::shared_ptr<ByteSink> inner_;
  OutputLimits limits_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::uint64_t forwarded_ = 0;
  std::uint64_t dropped_ = 0;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace hv::dev
