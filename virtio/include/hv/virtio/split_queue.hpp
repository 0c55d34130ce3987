#pragma once
// The device side of a split virtqueue (virtio 1.2 §2.7): pops the chains the driver makes available,
// returns them as used, and decides whether the driver wants an interrupt (VIRTIO_F_EVENT_IDX or the
// NO_INTERRUPT flag). Everything in guest memory is driver-controlled and validated; see
// docs/threat-model/virtqueue.md. Memory ordering: the avail index is read before the entries it
// covers (acquire fence), used entries are written before the used index (release fence), and
// avail_event/used_event are accessed after a full fence, as §2.7.7-§2.7.10 require.
//
// Ownership: a queue is a few words of ring state and holds no guest memory. Every method that touches
// the rings takes the GuestMemory from its owner (the device, which shares it), as rust-vmm's
// virtio-queue does, so a queue can never outlive the memory it reads.

#include <cstdint>
#include <optional>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/descriptor_chain.hpp"

namespace hv::virtio {

inline constexpr std::uint16_t kMaxQueueSize = 32768;  // §2.7: at most 2^15

struct SplitQueueConfig {
  std::uint16_t size = 0;              // power of two, 1..kMaxQueueSize
  std::uint64_t descriptor_table = 0;  // 16-byte aligned
  std::uint64_t available_ring = 0;    // 2-byte aligned ("driver area")
  std::uint64_t used_ring = 0;         // 4-byte aligned ("device area")
  bool event_idx = false;              // VIRTIO_F_EVENT_IDX negotiated
};

class SplitQueue {
 public:
  // Validates the configuration against guest memory: size, alignment, each ring inside RAM. The
  // queue does not keep `memory`: the methods below take it on each call. Passing them another layout
  // than this one is safe (every access is bounds-checked then) but breaks the queue.
  static Result<SplitQueue> create(const GuestMemory& memory, const SplitQueueConfig& config);

  // The next available chain, or nullopt when the driver has made none. An error means the driver
  // broke the protocol (the avail index ran more than a queue ahead, a malformed chain): the device
  // should mark itself broken (DEVICE_NEEDS_RESET), not continue.
  Result<std::optional<DescriptorChain>> pop(const GuestMemory& memory);
  // Returns chain `head` as used with `written` bytes written into its device-writable buffers.
  Result<void> add_used(const GuestMemory& memory, std::uint16_t head, std::uint32_t written);
  // Whether the driver asked to be interrupted for the used entries added since the last call.
  Result<bool> should_notify(const GuestMemory& memory);
  // Asks the driver to notify for the next chain it makes available (EVENT_IDX: avail_event = the
  // next index; otherwise: clears the used ring's NO_NOTIFY flag). Call before sleeping on the queue,
  // then pop() once more: a chain made available in between is not lost.
  Result<void> enable_notification(const GuestMemory& memory);

  [[nodiscard]] const SplitQueueConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::uint16_t next_avail() const noexcept { return next_avail_; }
  [[nodiscard]] std::uint16_t next_used() const noexcept { return next_used_; }

 private:
  explicit SplitQueue(const SplitQueueConfig& config) : config_(config) {}
  Result<DescriptorChain> parse_chain(const GuestMemory& memory, std::uint16_t head) const;

  SplitQueueConfig config_;
  std::uint16_t next_avail_ = 0;      // the device's position in the available ring
  std::uint16_t next_used_ = 0;       // the used index the device publishes next
  std::uint16_t signalled_used_ = 0;  // used index at the last should_notify()
};

}  // namespace hv::virtio
