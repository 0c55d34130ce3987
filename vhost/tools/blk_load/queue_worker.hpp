#pragma once
// One queue's driver loop, on a thread of its own (vhost-user-blk-load runs one per queue): keeps
// `iodepth` requests in flight, and checks each completion — the used element names a request in
// flight, the used length is what the device had to write (the status byte, plus the data for a read),
// the status is OK, and a read's data holds the sector pattern (sector_pattern.hpp).
//
// Request slot s owns descriptors 3s (header), 3s+1 (data) and 3s+2 (status), written once and reused:
// per request only the header, one available entry and, when the direction changes, one flag move.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "blk_target.hpp"
#include "latency_histogram.hpp"
#include "split_ring_driver.hpp"

namespace hvload {

struct QueueResult {
  std::uint64_t completed = 0;
  std::chrono::nanoseconds elapsed{};  // from the first submission to the last completion
  LatencyHistogram latency;
  std::uint64_t calls = 0;  // the backend's call eventfd signals the driver consumed (its interrupts)
};

class QueueWorker {
 public:
  // How long the device may keep every request in flight without completing one: then it is stuck.
  static constexpr std::chrono::seconds kStallLimit{5};

  // `target_queue` and the memory stay alive (the BlkTarget) while the worker runs.
  QueueWorker(std::shared_ptr<const hv::GuestMemory> memory, const TargetQueue& target_queue,
              const LoadOptions& options, std::uint64_t used_bytes);

  // Sets up the slots' descriptors; call once before the first run.
  hv::Result<void> prepare();
  // Writes the pattern once over this queue's share of the used range (a queue's share is its slice
  // of whole blocks), so that reads, on any queue, find it. No latencies are recorded.
  hv::Result<void> prefill();
  // The measured run: `options.pattern` for `duration`, then the requests still in flight complete.
  hv::Result<void> measure(std::chrono::milliseconds duration, QueueResult& result);

 private:
  struct Request {
    bool write = false;
    std::uint64_t block = 0;  // in units of the block size
  };
  struct Slot {
    bool busy = false;
    bool write = false;
    bool data_flags_written = false;
    bool data_is_write = false;  // the direction the data descriptor is set up for
    std::uint64_t block = 0;
    std::chrono::steady_clock::time_point submitted;
  };
  template <class Next>
  hv::Result<void> run(Next next, LatencyHistogram* latency, std::uint64_t& completed, std::uint64_t& calls);
  hv::Result<void> submit(std::uint32_t slot, const Request& request);
  hv::Result<void> complete(const SplitRingDriver::Used& used, LatencyHistogram* latency);
  hv::Result<void> wait_for_completion(std::uint32_t in_flight, std::uint64_t& calls);
  [[nodiscard]] std::uint64_t sector_of(std::uint64_t block) const noexcept {
    return block * block_size_ / kSectorSize;
  }
  [[nodiscard]] std::string where() const;
  std::uint64_t random() noexcept;

  std::shared_ptr<const hv::GuestMemory> memory_;
  const TargetQueue& queue_;
  SplitRingDriver ring_;
  AccessPattern pattern_;
  std::uint32_t block_size_;
  std::uint32_t iodepth_;
  std::uint64_t blocks_;       // whole blocks in the used range
  std::uint64_t slice_first_;  // this queue's slice: sequential runs and the prefill
  std::uint64_t slice_blocks_;
  std::uint64_t cursor_ = 0;  // next block of a sequential run, relative to the slice
  std::uint64_t rng_state_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
};

}  // namespace hvload
