#pragma once
// One virtqueue of either layout, as a device uses it: the transport builds it from what the driver
// programmed and the negotiated features (VIRTIO_F_RING_PACKED picks the packed layout). It holds no
// guest memory: the device passes the memory it shares (from activate()) to each call.

#include <optional>
#include <variant>

#include "hv/virtio/packed_queue.hpp"
#include "hv/virtio/split_queue.hpp"

namespace hv::virtio {

class Queue {
 public:
  explicit Queue(SplitQueue q) : q_(q) {}  // both are trivially copyable: a few words of ring state
  explicit Queue(PackedQueue q) : q_(q) {}

  Result<std::optional<DescriptorChain>> pop(const GuestMemory& memory) {
    return std::visit([&](auto& q) { return q.pop(memory); }, q_);
  }
  Result<bool> pop_into(const GuestMemory& memory, DescriptorChain& chain) {
    return std::visit([&](auto& q) { return q.pop_into(memory, chain); }, q_);
  }
  // Returns `chain` as used with `written` bytes written into its device-writable buffers.
  Result<void> add_used(const GuestMemory& memory, const DescriptorChain& chain, std::uint32_t written) {
    if (auto* split = std::get_if<SplitQueue>(&q_)) return split->add_used(memory, chain.head, written);
    return std::get<PackedQueue>(q_).add_used(memory, chain.head, written, chain.ring_slots);
  }
  Result<bool> should_notify(const GuestMemory& memory) {
    return std::visit([&](auto& q) { return q.should_notify(memory); }, q_);
  }
  Result<void> enable_notification(const GuestMemory& memory) {
    return std::visit([&](auto& q) { return q.enable_notification(memory); }, q_);
  }
  Result<void> disable_notification(const GuestMemory& memory) {
    return std::visit([&](auto& q) { return q.disable_notification(memory); }, q_);
  }
  [[nodiscard]] bool packed() const noexcept { return std::holds_alternative<PackedQueue>(q_); }
  // The layout and position, to save (GET_VRING_BASE, a snapshot) and to rebuild from.
  [[nodiscard]] const std::variant<SplitQueue, PackedQueue>& layout() const noexcept { return q_; }

 private:
  std::variant<SplitQueue, PackedQueue> q_;
};

// Takes up to `max` available chains from `queue` and returns each as used with the byte count
// `handle(chain)` gives. True when any chain was used; an error means the driver broke the queue
// protocol (the device should stop using the queue until it is reset).
template <class Handler>
Result<bool> serve_available(Queue& queue, const GuestMemory& memory, std::uint32_t max, Handler handle) {
  bool used = false;
  DescriptorChain chain;  // one per call: its storage is reused for every chain
  for (std::uint32_t n = 0; n < max; ++n) {
    auto taken = queue.pop_into(memory, chain);
    if (!taken) return tl::unexpected(taken.error());
    if (!*taken) break;
    if (auto r = queue.add_used(memory, chain, handle(chain)); !r) return tl::unexpected(r.error());
    used = true;
  }
  return used;
}

}  // namespace hv::virtio
