#pragma once
// The backend under load: a vhost-user connection negotiated for virtio-blk, the shared memory (one
// memfd region: each queue's rings, request headers, status bytes and data buffers), and the rings
// handed to the backend with their kick and call eventfds.

#include <cstdint>
#include <memory>
#include <vector>

#include "hv/error.hpp"
#include "hv/event_fd.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vhost/frontend.hpp"
#include "load_options.hpp"
#include "split_ring_driver.hpp"

namespace hvload {

// virtio-blk feature bits (virtio 1.2 §5.2.3) the load generator looks at.
inline constexpr std::uint64_t kBlkFeatureRo = 1ULL << 5;
inline constexpr std::uint64_t kBlkFeatureFlush = 1ULL << 9;
inline constexpr std::uint64_t kBlkFeatureMq = 1ULL << 12;
inline constexpr std::uint64_t kRingFeatureEventIdx = 1ULL << 29;  // VIRTIO_RING_F_EVENT_IDX

// Where one queue's parts are in the shared memory (guest addresses).
struct QueueLayout {
  std::uint16_t index = 0;
  std::uint16_t ring_size = 0;  // a power of two holding 3 descriptors per request
  std::uint64_t rings = 0;
  std::uint64_t headers = 0;      // 16 bytes per request slot
  std::uint64_t statuses = 0;     // 1 byte per request slot
  std::uint64_t data = 0;         // data_stride bytes per request slot
  std::uint64_t data_stride = 0;  // the block size rounded up to 4 KiB, so every buffer is page-aligned
  bool event_idx = false;         // VIRTIO_RING_F_EVENT_IDX negotiated
};

struct TargetQueue {
  QueueLayout layout;
  hv::EventFd kick;
  hv::EventFd call;
};

class BlkTarget {
 public:
  // Connects to the backend and checks it can serve the run (VIRTIO_F_VERSION_1, the CONFIG protocol
  // feature for the capacity, enough queues, write access for writes; Unsupported otherwise), then
  // sets up memory and rings and starts them. The run uses the first options.size bytes, or all.
  static hv::Result<BlkTarget> open(const LoadOptions& options);

  [[nodiscard]] std::shared_ptr<const hv::GuestMemory> memory() const { return memory_; }
  [[nodiscard]] std::vector<TargetQueue>& queues() noexcept { return queues_; }
  [[nodiscard]] std::uint64_t capacity_bytes() const noexcept { return capacity_bytes_; }
  [[nodiscard]] std::uint64_t used_bytes() const noexcept { return used_bytes_; }
  [[nodiscard]] std::uint64_t negotiated_features() const noexcept { return features_; }
  // Stops every ring (GET_VRING_BASE), as a driver reset would; the first failure is returned.
  hv::Result<void> stop();

 private:
  explicit BlkTarget(hv::vhost::Frontend frontend) noexcept : frontend_(std::move(frontend)) {}
  hv::Result<void> negotiate(const LoadOptions& options);
  hv::Result<void> lay_out(const LoadOptions& options);
  hv::Result<void> start_rings();

  hv::vhost::Frontend frontend_;
  std::shared_ptr<hv::GuestMemory> memory_;
  std::vector<TargetQueue> queues_;
  std::uint64_t capacity_bytes_ = 0;
  std::uint64_t used_bytes_ = 0;
  std::uint64_t features_ = 0;
};

}  // namespace hvload
