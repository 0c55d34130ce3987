#include "hv/virtio/packed_queue.hpp"

#include "chain_builder.hpp"

#include <atomic>
#include <string>

namespace hv::virtio {

namespace {

constexpr const char* kOp = "virtio::PackedQueue";
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirect = 4;
constexpr std::uint16_t kAvail = 1U << 7, kUsed = 1U << 15;                   // §2.8.1
constexpr std::uint16_t kEventEnable = 0, kEventDisable = 1, kEventDesc = 2;  // §2.8.10
constexpr std::uint64_t kDescriptorSize = 16;
constexpr std::uint32_t kMaxIndirectDescriptors = kMaxQueueSize;

struct PackedDescriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t id;
  std::uint16_t flags;
};
static_assert(sizeof(PackedDescriptor) == kDescriptorSize);

// The driver's ring or descriptors break the protocol.
Error broken(const std::string& what) { return Error(ErrorKind::ProtocolViolation, kOp, what); }

bool available(std::uint16_t flags, bool wrap) {
  return ((flags & kAvail) != 0) == wrap && ((flags & kUsed) != 0) != wrap;
}

}  // namespace

Result<PackedQueue> PackedQueue::create(const GuestMemory& memory, const PackedQueueConfig& c) {
  if (c.size == 0 || c.size > kMaxQueueSize) {
    return tl::unexpected(
        detail::cold_error([&] { return broken("queue size " + std::to_string(c.size) + " is not in 1..32768"); }));
  }
  if (c.descriptor_ring % 16 != 0 || c.driver_event % 4 != 0 || c.device_event % 4 != 0) {
    return tl::unexpected(
        detail::cold_error([&] { return broken("ring addresses misaligned (descriptors 16, event suppression 4)"); }));
  }
  if (!memory.contains(c.descriptor_ring, kDescriptorSize * c.size) || !memory.contains(c.driver_event, 4) ||
      !memory.contains(c.device_event, 4)) {
    return tl::unexpected(
        detail::cold_error([&] { return broken("descriptor ring or event suppression outside guest RAM"); }));
  }
  // The device writes used descriptors into the ring and its own event suppression structure: neither
  // may lie in memory the VMM made read-only.
  if (!memory.writable(c.descriptor_ring, kDescriptorSize * c.size) || !memory.writable(c.device_event, 4)) {
    return fail(ErrorKind::PermissionDenied, kOp,
                "descriptor ring or device event suppression in read-only guest memory");
  }
  return PackedQueue(c);
}

Result<std::optional<DescriptorChain>> PackedQueue::pop(const GuestMemory& memory) {
  DescriptorChain chain;
  auto taken = pop_into(memory, chain);
  if (!taken) return tl::unexpected(taken.error());
  if (!*taken) return std::optional<DescriptorChain>{};
  return std::optional<DescriptorChain>(std::move(chain));
}

Result<bool> PackedQueue::pop_into(const GuestMemory& memory, DescriptorChain& chain) {
  const std::uint64_t ring = config_.descriptor_ring;
  // The driver makes the head available last (§2.8.6): read the chain after its flags (acquire).
  auto head_flags = memory.load<std::uint16_t>(ring + kDescriptorSize * next_avail_ + 14, std::memory_order_acquire);
  if (!head_flags) return tl::unexpected(head_flags.error());
  if (!available(*head_flags, avail_wrap_)) return false;
  detail::ChainBuilder builder(kOp, chain);
  std::uint16_t index = next_avail_;
  bool wrap = avail_wrap_;
  for (std::uint16_t slots = 1;; ++slots) {
    // A list is at most the queue size (§2.8.5): more means the driver's NEXT flags loop the ring.
    if (slots > config_.size)
      return tl::unexpected(detail::cold_error([&] { return broken("descriptor list longer than the queue"); }));
    auto d = memory.read_obj<PackedDescriptor>(ring + kDescriptorSize * index);
    if (!d) return tl::unexpected(d.error());
    if (!available(d->flags, wrap))
      return tl::unexpected(
          detail::cold_error([&] { return broken("a descriptor in the middle of a list is not available"); }));
    if ((d->flags & kIndirect) != 0) {
      // An indirect descriptor is a list of its own (§2.8.7); its WRITE flag is ignored.
      if ((d->flags & kNext) != 0 || slots != 1)
        return tl::unexpected(detail::cold_error([&] { return broken("an indirect descriptor inside a list"); }));
      if (d->len == 0 || d->len % kDescriptorSize != 0 || d->len / kDescriptorSize > kMaxIndirectDescriptors) {
        return tl::unexpected(
            detail::cold_error([&] { return broken("indirect table length " + std::to_string(d->len)); }));
      }
      if (d->addr % kDescriptorSize != 0 || !memory.contains(d->addr, d->len)) {
        return tl::unexpected(detail::cold_error(
            [&] { return broken("indirect table at " + hex(d->addr) + " misaligned or outside guest RAM"); }));
      }
      // Entries are consecutive; only their WRITE flag means anything (§2.8.7).
      for (std::uint32_t i = 0; i < d->len / kDescriptorSize; ++i) {
        auto e = memory.read_obj<PackedDescriptor>(d->addr + kDescriptorSize * i);
        if (!e) return tl::unexpected(e.error());
        if (const char* why = builder.add(e->addr, e->len, (e->flags & kWrite) != 0))
          return tl::unexpected(detail::cold_error([&] { return builder.broken(why); }));
      }
    } else if (const char* why = builder.add(d->addr, d->len, (d->flags & kWrite) != 0)) {
      return tl::unexpected(detail::cold_error([&] { return builder.broken(why); }));
    }
    index = static_cast<std::uint16_t>(index + 1);
    if (index == config_.size) {
      index = 0;
      wrap = !wrap;
    }
    if ((d->flags & kNext) == 0 || (d->flags & kIndirect) != 0) {
      chain.head = d->id;  // the buffer ID is in the last descriptor (§2.8.6)
      chain.ring_slots = slots;
      break;
    }
  }
  next_avail_ = index;
  avail_wrap_ = wrap;
  return true;
}

Result<void> PackedQueue::add_used(const GuestMemory& memory, std::uint16_t id, std::uint32_t written,
                                   std::uint16_t ring_slots) {
  if (ring_slots == 0 || ring_slots > config_.size) {  // the caller's mistake
    return tl::unexpected(detail::cold_error([&] {
      return Error(ErrorKind::InvalidArgument, kOp, "used chain of " + std::to_string(ring_slots) + " slots");
    }));
  }
  const std::uint64_t at = config_.descriptor_ring + kDescriptorSize * next_used_;
  if (auto r = memory.write_obj<std::uint32_t>(at + 8, written); !r) return r;
  if (auto r = memory.write_obj<std::uint16_t>(at + 12, id); !r) return r;
  // The flags publish the used descriptor: everything else first (§2.8.1), by a release store.
  const auto flags = static_cast<std::uint16_t>((used_wrap_ ? (kAvail | kUsed) : 0) | (written > 0 ? kWrite : 0));
  if (auto r = memory.store<std::uint16_t>(at + 14, flags, std::memory_order_release); !r) return r;
  const std::uint32_t next = next_used_ + ring_slots;
  if (next >= config_.size) used_wrap_ = !used_wrap_;
  next_used_ = static_cast<std::uint16_t>(next % config_.size);
  return {};
}

Result<bool> PackedQueue::should_notify(const GuestMemory& memory) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint32_t period = 2U * config_.size;
  const std::uint32_t old = signalled_;
  const std::uint32_t now = cycle(next_used_, used_wrap_);
  signalled_ = now;
  if (old == now) return false;  // nothing used since the last notification
  auto off_wrap = memory.load<std::uint16_t>(config_.driver_event, std::memory_order_relaxed);
  auto flags = memory.load<std::uint16_t>(config_.driver_event + 2, std::memory_order_relaxed);
  if (!off_wrap || !flags) return tl::unexpected(!off_wrap ? off_wrap.error() : flags.error());
  switch (*flags & 3) {
    case kEventDisable: return false;
    case kEventDesc: {
      if (!config_.event_idx) return true;  // only valid with RING_EVENT_IDX; otherwise as ENABLE
      const std::uint16_t offset = *off_wrap & 0x7fff;
      if (offset >= config_.size) return true;  // a position outside the ring: do not lose the interrupt
      // Notify when the descriptor at (offset, wrap) is among those used since the last notification.
      const std::uint32_t event = cycle(offset, (*off_wrap & 0x8000) != 0);
      return (event + period - old) % period < (now + period - old) % period;
    }
    default: return true;  // ENABLE (and the reserved value 3)
  }
}

Result<PackedQueue> PackedQueue::restore(const GuestMemory& memory, const PackedQueueConfig& config,
                                         PackedQueueState state) {
  auto queue = create(memory, config);
  if (!queue) return queue;
  if (state.next_avail >= config.size || state.next_used >= config.size) {
    return fail(ErrorKind::InvalidArgument, kOp,
                "ring position " + std::to_string(state.next_avail) + "/" + std::to_string(state.next_used) +
                    " outside a ring of " + std::to_string(config.size));
  }
  queue->next_avail_ = state.next_avail;
  queue->avail_wrap_ = state.avail_wrap;
  queue->next_used_ = state.next_used;
  queue->used_wrap_ = state.used_wrap;
  queue->signalled_ = queue->cycle(state.next_used, state.used_wrap);  // nothing used since: no notification owed
  return queue;
}

Result<void> PackedQueue::disable_notification(const GuestMemory& memory) {
  return memory.store<std::uint16_t>(config_.device_event + 2, kEventDisable, std::memory_order_relaxed);
}

Result<void> PackedQueue::enable_notification(const GuestMemory& memory) {
  // Device event suppression: ENABLE, or with RING_EVENT_IDX the next descriptor the device expects.
  const std::uint16_t off_wrap = static_cast<std::uint16_t>(next_avail_ | (avail_wrap_ ? 0x8000 : 0));
  const std::uint16_t offset = config_.event_idx ? off_wrap : 0;
  const std::uint16_t flags = config_.event_idx ? kEventDesc : kEventEnable;
  if (auto r = memory.store<std::uint16_t>(config_.device_event, offset, std::memory_order_relaxed); !r) return r;
  if (auto r = memory.store<std::uint16_t>(config_.device_event + 2, flags, std::memory_order_relaxed); !r) return r;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return {};
}

}  // namespace hv::virtio
