#include "hv/virtio/split_queue.hpp"

#include "chain_builder.hpp"

#include <array>
#include <atomic>
#include <string>

namespace hv::virtio {

namespace {

constexpr const char* kOp = "virtio::SplitQueue";
constexpr std::uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;  // §2.7.5
constexpr std::uint16_t kAvailNoInterrupt = 1;                             // §2.7.6
constexpr std::uint16_t kUsedNoNotify = 1;                                 // §2.7.8
constexpr std::uint64_t kDescriptorSize = 16;
// The longest indirect table hvkit walks: the largest queue's worth of descriptors (§2.7.5.3.1 lets
// a table hold up to the queue size; Linux never exceeds it).
constexpr std::uint32_t kMaxIndirectDescriptors = kMaxQueueSize;

struct RawDescriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags;
  std::uint16_t next;
};
static_assert(sizeof(RawDescriptor) == kDescriptorSize);

// vring_need_event (§2.7.10): whether moving the used index from `old` to `now` crossed `event`.
bool need_event(std::uint16_t event, std::uint16_t now, std::uint16_t old) {
  return static_cast<std::uint16_t>(now - event - 1) < static_cast<std::uint16_t>(now - old);
}

// The driver's rings or descriptors break the protocol.
Error broken(const std::string& what) { return Error(ErrorKind::ProtocolViolation, kOp, what); }

}  // namespace

Error SplitQueue::creation_error(const GuestMemory& memory, const SplitQueueConfig& c) {
  // A size of 0 would divide by zero later; a size that is not a power of two breaks index wrap (§2.7).
  if (!valid_size(c.size)) return broken("queue size " + std::to_string(c.size) + " is not a power of two in 1..32768");
  if (!aligned(c)) return broken("ring addresses misaligned (descriptors 16, available 2, used 4)");
  const RingSizes sizes = ring_sizes(c);
  struct Ring {
    const char* name;
    std::uint64_t address, length;
  };
  for (const Ring& ring :
       {Ring{"descriptor table", c.descriptor_table, sizes.descriptors},
        Ring{"available ring", c.available_ring, sizes.available}, Ring{"used ring", c.used_ring, sizes.used}}) {
    if (!memory.contains(ring.address, ring.length)) {
      return broken(std::string(ring.name) + " at " + hex(ring.address) + " is not inside guest RAM");
    }
  }
  // The device writes the used ring: it may not lie in memory the VMM made read-only.
  return Error(ErrorKind::PermissionDenied, kOp,
               "used ring at " + hex(c.used_ring) + " lies in read-only guest memory");
}

Result<void> SplitQueue::parse_chain(const GuestMemory& memory, std::uint16_t head, DescriptorChain& chain) const {
  detail::ChainBuilder builder(kOp, chain);
  chain.head = head;
  std::uint64_t table = config_.descriptor_table;
  std::uint32_t table_size = config_.size;
  std::uint32_t index = head;
  std::uint32_t visited = 0;
  bool in_indirect = false;
  for (;;) {
    // A chain visits each descriptor of its table at most once: more means a loop (§2.7.5.2).
    if (index >= table_size)
      return tl::unexpected(
          detail::cold_error([&] { return broken("descriptor index " + std::to_string(index) + " out of range"); }));
    if (++visited > table_size)
      return tl::unexpected(detail::cold_error([&] { return broken("descriptor chain loops"); }));
    auto d = memory.read_obj<RawDescriptor>(table + kDescriptorSize * index);
    if (!d)
      return tl::unexpected(detail::cold_error(
          [&] { return broken("descriptor outside guest RAM: " + std::string(d.error().message())); }));
    if ((d->flags & kDescIndirect) != 0) {
      if (in_indirect)
        return tl::unexpected(detail::cold_error([&] { return broken("an indirect table inside an indirect table"); }));
      if ((d->flags & kDescNext) != 0)
        return tl::unexpected(detail::cold_error([&] { return broken("a descriptor both INDIRECT and NEXT"); }));
      if (d->len == 0 || d->len % kDescriptorSize != 0 || d->len / kDescriptorSize > kMaxIndirectDescriptors) {
        return tl::unexpected(
            detail::cold_error([&] { return broken("indirect table length " + std::to_string(d->len)); }));
      }
      if (d->addr % kDescriptorSize != 0 || !memory.contains(d->addr, d->len)) {
        return tl::unexpected(detail::cold_error(
            [&] { return broken("indirect table at " + hex(d->addr) + " misaligned or outside guest RAM"); }));
      }
      chain.ring_slots = static_cast<std::uint16_t>(visited);  // the table entries up to the indirect one
      table = d->addr;
      table_size = d->len / static_cast<std::uint32_t>(kDescriptorSize);
      index = 0;
      visited = 0;
      in_indirect = true;
      continue;
    }
    if (const char* why = builder.add(d->addr, d->len, (d->flags & kDescWrite) != 0))
      return tl::unexpected(detail::cold_error([&] { return builder.broken(why); }));
    if ((d->flags & kDescNext) == 0) {
      if (!in_indirect) chain.ring_slots = static_cast<std::uint16_t>(visited);
      return {};
    }
    index = d->next;
  }
}

Result<std::uint16_t> SplitQueue::pending(const GuestMemory& memory) {
  if (next_avail_ != known_avail_) return static_cast<std::uint16_t>(known_avail_ - next_avail_);
  // The entries up to the index were written before it (§2.7.13.2): the acquire load orders the
  // reads of those entries after it. Read once per batch: until the device has taken every chain
  // the last read announced, there is no need to look again.
  auto avail_idx = memory.load<std::uint16_t>(config_.available_ring + 2, std::memory_order_acquire);
  if (!avail_idx) return tl::unexpected(avail_idx.error());
  const auto count = static_cast<std::uint16_t>(*avail_idx - next_avail_);
  // More than a queue's worth ahead is impossible for a correct driver; following it would re-read
  // entries forever (the rust-vmm hang).
  if (count > config_.size) {
    return tl::unexpected(detail::cold_error([&] {
      return broken("available index " + std::to_string(*avail_idx) + " is " + std::to_string(count) +
                    " ahead of the device, more than the queue size");
    }));
  }
  known_avail_ = *avail_idx;
  return count;
}

Result<bool> SplitQueue::pop_into(const GuestMemory& memory, DescriptorChain& chain) {
  // Chains left from the last read of the index need no new read (nor a Result for one).
  Result<std::uint16_t> count = static_cast<std::uint16_t>(known_avail_ - next_avail_);
  if (*count == 0) count = pending(memory);
  if (!count) return tl::unexpected(count.error());
  if (*count == 0) {
    if (!config_.event_idx) return false;
    // With EVENT_IDX the driver notifies only when its index passes avail_event (§2.7.10): keep it at
    // the device's position, or a Linux driver stops notifying after the first request. Then look
    // again: a chain made available meanwhile was not announced.
    if (auto r = enable_notification(memory); !r) return tl::unexpected(r.error());
    count = pending(memory);
    if (!count) return tl::unexpected(count.error());
    if (*count == 0) return false;
  }
  // The size is a power of two (create() checked): a mask, not a division, wraps the index.
  const std::uint64_t slot = config_.available_ring + 4 + 2ULL * (next_avail_ & (config_.size - 1U));
  auto head = memory.read_obj<std::uint16_t>(slot);
  if (!head) return tl::unexpected(head.error());
  if (auto parsed = parse_chain(memory, *head, chain); !parsed) return tl::unexpected(parsed.error());
  ++next_avail_;
  return true;
}

Result<std::optional<DescriptorChain>> SplitQueue::pop(const GuestMemory& memory) {
  DescriptorChain chain;
  auto taken = pop_into(memory, chain);
  if (!taken) return tl::unexpected(taken.error());
  if (!*taken) return std::optional<DescriptorChain>{};
  return std::optional<DescriptorChain>(std::move(chain));
}

Error SplitQueue::add_used_error(const GuestMemory& memory, std::uint16_t head) const {
  // The head comes from the device (a chain pop() returned): a wrong one is the caller's mistake.
  if (head >= config_.size) {
    return Error(ErrorKind::InvalidArgument, kOp, "used head " + std::to_string(head) + " out of range");
  }
  return memory.window_error(config_.used_ring, used_ring_bytes());
}

Result<SplitQueue> SplitQueue::restore(const GuestMemory& memory, const SplitQueueConfig& config,
                                       SplitQueueState state) {
  auto queue = create(memory, config);
  if (!queue) return queue;
  queue->next_avail_ = state.next_avail;
  queue->known_avail_ = state.next_avail;  // nothing known to be pending: the next pop() reads the index
  queue->next_used_ = state.next_used;
  queue->signalled_used_ = state.next_used;  // nothing used since: no notification owed
  return queue;
}

Result<void> SplitQueue::disable_notification(const GuestMemory& memory) {
  if (config_.event_idx) return {};
  return memory.store<std::uint16_t>(config_.used_ring, kUsedNoNotify, std::memory_order_relaxed);
}

Result<bool> SplitQueue::should_notify(const GuestMemory& memory) {
  // The used index store must be visible before the driver's suppression state is read (§2.7.7.2).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint16_t old = signalled_used_;
  signalled_used_ = next_used_;
  if (old == next_used_) return false;  // nothing used since the last notification
  if (config_.event_idx) {
    auto used_event =
        memory.load<std::uint16_t>(config_.available_ring + 4 + 2ULL * config_.size, std::memory_order_relaxed);
    if (!used_event) return tl::unexpected(used_event.error());
    return need_event(*used_event, next_used_, old);
  }
  auto flags = memory.load<std::uint16_t>(config_.available_ring, std::memory_order_relaxed);
  if (!flags) return tl::unexpected(flags.error());
  return (*flags & kAvailNoInterrupt) == 0;
}

Result<void> SplitQueue::enable_notification(const GuestMemory& memory) {
  if (config_.event_idx) {
    if (auto r = memory.store<std::uint16_t>(config_.used_ring + 4 + 8ULL * config_.size, next_avail_,
                                             std::memory_order_relaxed);
        !r)
      return r;
  } else {
    if (auto r = memory.store<std::uint16_t>(config_.used_ring, 0, std::memory_order_relaxed); !r) return r;
  }
  // The driver must see the request before the device re-checks the available index (§2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return {};
}

}  // namespace hv::virtio
