#pragma once
// The device side of a packed virtqueue (virtio 1.2 §2.8): one descriptor ring the driver and the
// device both write, with wrap counters instead of indices, and an event suppression structure each.
// Same contract as SplitQueue (hv/virtio/split_queue.hpp): everything in guest memory is driver
// controlled and validated; errors mean the driver broke the protocol. Memory ordering: a head
// descriptor's flags are read before the rest of its chain (acquire), a used descriptor's id and
// length are written before its flags (release), event suppression is read after a full fence.
// Like SplitQueue it holds no guest memory: the methods that touch the ring take it from the owner.

#include <cstdint>
#include <optional>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/descriptor_chain.hpp"
#include "hv/virtio/split_queue.hpp"

namespace hv::virtio {

struct PackedQueueConfig {
  std::uint16_t size = 0;             // 1..kMaxQueueSize (a power of two is not required, §2.8.10.1)
  std::uint64_t descriptor_ring = 0;  // 16-byte aligned
  std::uint64_t driver_event = 0;     // driver event suppression, 4-byte aligned (the device reads it)
  std::uint64_t device_event = 0;     // device event suppression, 4-byte aligned (the device writes it)
  bool event_idx = false;             // VIRTIO_F_RING_EVENT_IDX negotiated
};

// Where the device is in the ring (GET/SET_VRING_BASE, snapshots): the next slot it takes and the
// next it writes as used, each with its wrap counter (§2.8.1; both start at 1).
struct PackedQueueState {
  std::uint16_t next_avail = 0;
  bool avail_wrap = true;
  std::uint16_t next_used = 0;
  bool used_wrap = true;
  bool operator==(const PackedQueueState&) const = default;
};

class PackedQueue {
 public:
  // Validates against `memory` and does not keep it (see SplitQueue::create).
  static Result<PackedQueue> create(const GuestMemory& memory, const PackedQueueConfig& config);

  // The next available chain (head = its buffer ID), or nullopt.
  Result<std::optional<DescriptorChain>> pop(const GuestMemory& memory);
  // The same into `chain`, reusing its buffer storage (see SplitQueue::pop_into).
  Result<bool> pop_into(const GuestMemory& memory, DescriptorChain& chain);
  // Marks buffer `id` used with `written` bytes; `ring_slots` is the popped chain's.
  Result<void> add_used(const GuestMemory& memory, std::uint16_t id, std::uint32_t written, std::uint16_t ring_slots);
  Result<bool> should_notify(const GuestMemory& memory);
  Result<void> enable_notification(const GuestMemory& memory);

  // Device event suppression DISABLE (§2.8.10): asks the driver not to notify. A hint.
  Result<void> disable_notification(const GuestMemory& memory);

  [[nodiscard]] PackedQueueState state() const noexcept { return {next_avail_, avail_wrap_, next_used_, used_wrap_}; }
  // A queue over `config` (checked as create() checks it) continuing from `state`. The positions
  // come from outside (a vhost-user frontend, a snapshot): a slot at or past the ring's size is
  // InvalidArgument.
  static Result<PackedQueue> restore(const GuestMemory& memory, const PackedQueueConfig& config,
                                     PackedQueueState state);

  [[nodiscard]] const PackedQueueConfig& config() const noexcept { return config_; }

 private:
  explicit PackedQueue(const PackedQueueConfig& config) : config_(config) {}
  // Position in the 2 x size cycle the (index, wrap counter) pairs run through.
  [[nodiscard]] std::uint32_t cycle(std::uint16_t index, bool wrap) const noexcept {
    return index + (wrap ? 0U : config_.size);
  }

  PackedQueueConfig config_;
  std::uint16_t next_avail_ = 0;
  bool avail_wrap_ = true;  // both counters start at 1 (§2.8.1)
  std::uint16_t next_used_ = 0;
  bool used_wrap_ = true;
  std::uint32_t signalled_ = 0;  // cycle position of next_used_ at the last should_notify()
};

}  // namespace hv::virtio
