#pragma once
// The device side of a split virtqueue (virtio 1.2 §2.7): pops the chains the driver makes available,
// returns them as used, and decides whether the driver wants an interrupt (VIRTIO_F_EVENT_IDX or the
// NO_INTERRUPT flag). Everything in guest memory is driver-controlled and validated; see
// docs/threat-model/virtqueue.md. Memory ordering: the avail index is read before the entries it
// covers (an acquire load, once per batch of chains), used entries are written before the used index
// (a release store), and
// avail_event/used_event are accessed after a full fence, as §2.7.7-§2.7.10 require.
//
// Ownership: a queue is a few words of ring state and holds no guest memory. Every method that touches
// the rings takes the GuestMemory from its owner (the device, which shares it), as rust-vmm's
// virtio-queue does, so a queue can never outlive the memory it reads.

#include <algorithm>
#include <array>
#include <atomic>
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

// Where the device is in the rings: what a vhost-user backend reports for GET_VRING_BASE and takes
// from SET_VRING_BASE, and what a snapshot keeps. Split indices run freely over 16 bits.
struct SplitQueueState {
  std::uint16_t next_avail = 0;  // the next available-ring entry the device takes
  std::uint16_t next_used = 0;   // the used index the device publishes next
  bool operator==(const SplitQueueState&) const = default;
};

class SplitQueue {
 public:
  // Validates the configuration against guest memory: size, alignment, each ring inside RAM. The
  // queue does not keep `memory`: the methods below take it on each call. Passing them another layout
  // than this one is safe (every access is bounds-checked then) but breaks the queue.
  // Inline: a transport creates its queues at DRIVER_OK, and the peer comparison times it.
  [[gnu::always_inline]] static Result<SplitQueue> create(const GuestMemory& memory, const SplitQueueConfig& config) {
    const RingSizes sizes = ring_sizes(config);
    if (!valid_size(config.size) || !aligned(config)) [[unlikely]]
      return tl::unexpected(creation_error(memory, config));
    // Drivers put the three rings in one region: one lookup of the span that covers them all proves
    // each inside RAM and the used ring writable. Otherwise (or if an end wraps) each ring on its own.
    const std::array<std::uint64_t, 3> ends = {config.descriptor_table + sizes.descriptors,
                                               config.available_ring + sizes.available, config.used_ring + sizes.used};
    const std::uint64_t low = std::min({config.descriptor_table, config.available_ring, config.used_ring});
    const std::uint64_t high = std::max({ends[0], ends[1], ends[2]});
    const bool no_wrap =
        ends[0] > config.descriptor_table && ends[1] > config.available_ring && ends[2] > config.used_ring;
    if (no_wrap && memory.writable(low, high - low)) [[likely]]
      return SplitQueue(config);
    if (memory.contains(config.descriptor_table, sizes.descriptors) &&
        memory.contains(config.available_ring, sizes.available) && memory.writable(config.used_ring, sizes.used)) {
      return SplitQueue(config);
    }
    return tl::unexpected(creation_error(memory, config));
  }

  // The next available chain, or nullopt when the driver has made none. An error means the driver
  // broke the protocol (the avail index ran more than a queue ahead, a malformed chain): the device
  // should mark itself broken (DEVICE_NEEDS_RESET), not continue.
  Result<std::optional<DescriptorChain>> pop(const GuestMemory& memory);
  // The same into `chain`, whose buffer storage is reused (a device that keeps one chain object per
  // queue never allocates for a chain): true when a chain was taken. On an error `chain` holds
  // nothing to act on.
  Result<bool> pop_into(const GuestMemory& memory, DescriptorChain& chain);
  // The chain that starts at descriptor `head`, without taking anything from the available ring: for a
  // chain taken before (a vhost-user backend replaying what it had in flight when it died). `head` and
  // the chain are validated as pop() validates them.
  Result<void> chain_at(const GuestMemory& memory, std::uint16_t head, DescriptorChain& chain) const {
    return parse_chain(memory, head, chain);
  }
  // Whether the driver has made a chain available that pop() has not taken yet (reads the available
  // index only when the last value read is used up). A hint for a device with several workers: wake
  // another one or not. An error as pop()'s: the index ran more than a queue ahead.
  Result<bool> more_available(const GuestMemory& memory) {
    auto count = pending(memory);
    if (!count) return tl::unexpected(count.error());
    return *count != 0;
  }
  // Returns chain `head` as used with `written` bytes written into its device-writable buffers.
  // Inline: a device calls it once per request, and it is two stores after one lookup.
  Result<void> add_used(const GuestMemory& memory, std::uint16_t head, std::uint32_t written) {
    // create() checked that the used ring is writable RAM, but the memory passed now may be another
    // layout (vhost-user replaces it at will), so the ring is looked up again: once for both stores.
    const GuestWindow ring = memory.writable_window(config_.used_ring, used_ring_bytes());
    if (head >= config_.size || !ring) [[unlikely]]
      return tl::unexpected(add_used_error(memory, head));
    const std::array<std::uint32_t, 2> element = {head, written};
    ring.write_obj(4 + 8ULL * (next_used_ & (config_.size - 1U)), element);  // the size is a power of 2
    ++next_used_;
    // The element must be visible before the index that publishes it (§2.7.8): a release store.
    ring.store<std::uint16_t>(2, next_used_, std::memory_order_release);
    return {};
  }
  // Whether the driver asked to be interrupted for the used entries added since the last call.
  Result<bool> should_notify(const GuestMemory& memory);
  // Asks the driver to notify for the next chain it makes available (EVENT_IDX: avail_event = the
  // next index; otherwise: clears the used ring's NO_NOTIFY flag). Call before sleeping on the queue,
  // then pop() once more: a chain made available in between is not lost.
  Result<void> enable_notification(const GuestMemory& memory);

  // Asks the driver not to notify (§2.7.7): without EVENT_IDX sets the used ring's NO_NOTIFY flag;
  // with EVENT_IDX there is nothing to write (avail_event stays where it is, and the driver notifies
  // only when its index passes it). A hint: a driver may notify anyway.
  Result<void> disable_notification(const GuestMemory& memory);

  [[nodiscard]] SplitQueueState state() const noexcept { return {next_avail_, next_used_}; }
  // A queue over `config` (checked as create() checks it) that continues from `state`: the next
  // pop() takes available entry state.next_avail, the next add_used() writes used entry
  // state.next_used. Every 16-bit value is a valid position; a driver whose rings disagree with it
  // is caught by pop() as before (more than a queue ahead).
  static Result<SplitQueue> restore(const GuestMemory& memory, const SplitQueueConfig& config, SplitQueueState state);

  [[nodiscard]] const SplitQueueConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::uint16_t next_avail() const noexcept { return next_avail_; }
  [[nodiscard]] std::uint16_t next_used() const noexcept { return next_used_; }

 private:
  explicit SplitQueue(const SplitQueueConfig& config) : config_(config) {}
  struct RingSizes {
    std::uint64_t descriptors, available, used;  // bytes, with the EVENT_IDX fields when negotiated
  };
  static RingSizes ring_sizes(const SplitQueueConfig& c) noexcept {
    const std::uint64_t event = c.event_idx ? 2 : 0;  // used_event / avail_event
    return {16ULL * c.size, 4 + 2ULL * c.size + event, 4 + 8ULL * c.size + event};
  }
  // A size that is not a power of two breaks the index wrap (§2.7); 0 would divide by zero.
  static bool valid_size(std::uint16_t size) noexcept {
    return size != 0 && size <= kMaxQueueSize && (size & (size - 1)) == 0;
  }
  static bool aligned(const SplitQueueConfig& c) noexcept {
    return c.descriptor_table % 16 == 0 && c.available_ring % 2 == 0 && c.used_ring % 4 == 0;
  }
  // Why create() refused `config`: out of line, so the accepting path builds no strings.
  [[gnu::cold, gnu::noinline]] static Error creation_error(const GuestMemory& memory, const SplitQueueConfig& config);
  [[nodiscard]] std::uint64_t used_ring_bytes() const noexcept { return 4 + 8ULL * config_.size; }
  [[gnu::cold, gnu::noinline]] Error add_used_error(const GuestMemory& memory, std::uint16_t head) const;
  Result<void> parse_chain(const GuestMemory& memory, std::uint16_t head, DescriptorChain& chain) const;
  // How many chains the driver has made available beyond next_avail_ (reads the index only when the
  // last value read is used up).
  Result<std::uint16_t> pending(const GuestMemory& memory);

  SplitQueueConfig config_;
  std::uint16_t next_avail_ = 0;      // the device's position in the available ring
  std::uint16_t known_avail_ = 0;     // the available index as last read (validated: <= a queue ahead)
  std::uint16_t next_used_ = 0;       // the used index the device publishes next
  std::uint16_t signalled_used_ = 0;  // used index at the last should_notify()
};

}  // namespace hv::virtio
