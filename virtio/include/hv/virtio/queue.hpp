#pragma once
// One virtqueue of either layout, as a device uses it: the transport builds it from what the driver
// programmed and the negotiated features (VIRTIO_F_RING_PACKED picks the packed layout). It holds no
// guest memory: the device passes the memory it shares (from activate()) to each call.

#include <memory>
#include <optional>
#include <variant>

#include "hv/virtio/inflight_log.hpp"
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
    if (inflight_) [[unlikely]]
      return pop_logged(memory, chain);
    return std::visit([&](auto& q) { return q.pop_into(memory, chain); }, q_);
  }
  // Whether another pop_into() would take a chain (a hint; true when it cannot tell cheaply: a packed
  // ring, or chains to replay from an in-flight log).
  Result<bool> more_available(const GuestMemory& memory) {
    auto* split = std::get_if<SplitQueue>(&q_);
    if (split == nullptr || inflight_) return true;
    return split->more_available(memory);
  }
  // Returns `chain` as used with `written` bytes written into its device-writable buffers.
  Result<void> add_used(const GuestMemory& memory, const DescriptorChain& chain, std::uint32_t written) {
    if (auto* split = std::get_if<SplitQueue>(&q_)) {
      if (!inflight_) [[likely]]
        return split->add_used(memory, chain.head, written);
      inflight_->completing(chain.head);
      auto r = split->add_used(memory, chain.head, written);
      if (r) inflight_->completed(chain.head, split->next_used());
      return r;
    }
    return std::get<PackedQueue>(q_).add_used(memory, chain.head, written, chain.ring_slots);
  }
  // Reports every chain taken and returned to `log`, and takes the chains it replays before new ones
  // (hv/virtio/inflight_log.hpp). Split queues only: Unsupported for a packed one.
  Result<void> track_inflight(std::shared_ptr<InflightLog> log) {
    if (packed())
      return tl::unexpected(Error(ErrorKind::Unsupported, "virtio::Queue", "in-flight tracking needs a split queue"));
    inflight_ = std::move(log);
    return {};
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
  // A chain replayed from the log, or a new one, reported to the log. Out of the inline path: only
  // vhost-user backends that keep a log come here.
  Result<bool> pop_logged(const GuestMemory& memory, DescriptorChain& chain) {
    auto& split = std::get<SplitQueue>(q_);
    if (auto head = inflight_->next_replay()) {
      if (auto r = split.chain_at(memory, *head, chain); !r) return tl::unexpected(r.error());
    } else {
      auto taken = split.pop_into(memory, chain);
      if (!taken || !*taken) return taken;
    }
    inflight_->taken(chain.head);
    return true;
  }

  std::variant<SplitQueue, PackedQueue> q_;
  std::shared_ptr<InflightLog> inflight_;  // null unless a vhost-user backend keeps a log
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
