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

Result<SplitQueue> SplitQueue::create(const GuestMemory& memory, const SplitQueueConfig& c) {
  // A size of 0 would divide by zero below; a size that is not a power of two breaks index wrap (§2.7).
  if (c.size == 0 || c.size > kMaxQueueSize || (c.size & (c.size - 1)) != 0) {
    return tl::unexpected(broken("queue size " + std::to_string(c.size) + " is not a power of two in 1..32768"));
  }
  if (c.descriptor_table % 16 != 0 || c.available_ring % 2 != 0 || c.used_ring % 4 != 0) {
    return tl::unexpected(broken("ring addresses misaligned (descriptors 16, available 2, used 4)"));
  }
  const std::uint64_t event = c.event_idx ? 2 : 0;
  struct Ring {
    const char* name;
    std::uint64_t address, length;
    bool device_writes;
  };
  const std::array<Ring, 3> rings = {{{"descriptor table", c.descriptor_table, kDescriptorSize * c.size, false},
                                      {"available ring", c.available_ring, 4 + 2ULL * c.size + event, false},
                                      {"used ring", c.used_ring, 4 + 8ULL * c.size + event, true}}};
  for (const auto& ring : rings) {
    if (!memory.view(ring.address, ring.length)) {
      return tl::unexpected(broken(std::string(ring.name) + " at " + hex(ring.address) + " is not inside guest RAM"));
    }
    // The device writes the used ring: it may not lie in memory the VMM made read-only.
    if (ring.device_writes && !memory.slice(ring.address, ring.length)) {
      return fail(ErrorKind::PermissionDenied, kOp,
                  std::string(ring.name) + " at " + hex(ring.address) + " lies in read-only guest memory");
    }
  }
  return SplitQueue(c);
}

Result<DescriptorChain> SplitQueue::parse_chain(const GuestMemory& memory, std::uint16_t head) const {
  detail::ChainBuilder builder(kOp);
  builder.chain().head = head;
  std::uint64_t table = config_.descriptor_table;
  std::uint32_t table_size = config_.size;
  std::uint32_t index = head;
  std::uint32_t visited = 0;
  bool in_indirect = false;
  for (;;) {
    // A chain visits each descriptor of its table at most once: more means a loop (§2.7.5.2).
    if (index >= table_size)
      return tl::unexpected(broken("descriptor index " + std::to_string(index) + " out of range"));
    if (++visited > table_size) return tl::unexpected(broken("descriptor chain loops"));
    auto d = memory.read_obj<RawDescriptor>(table + kDescriptorSize * index);
    if (!d) return tl::unexpected(broken("descriptor outside guest RAM: " + std::string(d.error().message())));
    if ((d->flags & kDescIndirect) != 0) {
      if (in_indirect) return tl::unexpected(broken("an indirect table inside an indirect table"));
      if ((d->flags & kDescNext) != 0) return tl::unexpected(broken("a descriptor both INDIRECT and NEXT"));
      if (d->len == 0 || d->len % kDescriptorSize != 0 || d->len / kDescriptorSize > kMaxIndirectDescriptors) {
        return tl::unexpected(broken("indirect table length " + std::to_string(d->len)));
      }
      if (d->addr % kDescriptorSize != 0 || !memory.view(d->addr, d->len)) {
        return tl::unexpected(broken("indirect table at " + hex(d->addr) + " misaligned or outside guest RAM"));
      }
      table = d->addr;
      table_size = d->len / static_cast<std::uint32_t>(kDescriptorSize);
      index = 0;
      visited = 0;
      in_indirect = true;
      continue;
    }
    if (const char* why = builder.add(d->addr, d->len, (d->flags & kDescWrite) != 0))
      return tl::unexpected(builder.broken(why));
    if ((d->flags & kDescNext) == 0) return std::move(builder.chain());
    index = d->next;
  }
}

Result<std::optional<DescriptorChain>> SplitQueue::pop(const GuestMemory& memory) {
  auto avail_idx = memory.read_obj<std::uint16_t>(config_.available_ring + 2);
  if (!avail_idx) return tl::unexpected(avail_idx.error());
  // The entries up to avail_idx were written before it (§2.7.13.2): read them after it.
  std::atomic_thread_fence(std::memory_order_acquire);
  auto pending = static_cast<std::uint16_t>(*avail_idx - next_avail_);
  if (pending == 0) {
    if (!config_.event_idx) return std::optional<DescriptorChain>{};
    // With EVENT_IDX the driver notifies only when its index passes avail_event (§2.7.10): keep it at
    // the device's position, or a Linux driver stops notifying after the first request. Then look
    // again: a chain made available meanwhile was not announced.
    if (auto r = enable_notification(memory); !r) return tl::unexpected(r.error());
    avail_idx = memory.read_obj<std::uint16_t>(config_.available_ring + 2);
    if (!avail_idx) return tl::unexpected(avail_idx.error());
    std::atomic_thread_fence(std::memory_order_acquire);
    pending = static_cast<std::uint16_t>(*avail_idx - next_avail_);
    if (pending == 0) return std::optional<DescriptorChain>{};
  }
  // More than a queue's worth ahead is impossible for a correct driver; following it would re-read
  // entries forever (the rust-vmm hang).
  if (pending > config_.size) {
    return tl::unexpected(broken("available index " + std::to_string(*avail_idx) + " is " + std::to_string(pending) +
                                 " ahead of the device, more than the queue size"));
  }
  const std::uint64_t slot = config_.available_ring + 4 + 2ULL * (next_avail_ % config_.size);
  auto head = memory.read_obj<std::uint16_t>(slot);
  if (!head) return tl::unexpected(head.error());
  auto chain = parse_chain(memory, *head);
  if (!chain) return tl::unexpected(chain.error());
  ++next_avail_;
  return std::optional<DescriptorChain>(std::move(*chain));
}

Result<void> SplitQueue::add_used(const GuestMemory& memory, std::uint16_t head, std::uint32_t written) {
  // The head comes from the device (a chain pop() returned): a wrong one is the caller's mistake.
  if (head >= config_.size)
    return fail(ErrorKind::InvalidArgument, kOp, "used head " + std::to_string(head) + " out of range");
  const std::uint64_t slot = config_.used_ring + 4 + 8ULL * (next_used_ % config_.size);
  const std::array<std::uint32_t, 2> element = {head, written};
  if (auto r = memory.write_obj(slot, element); !r) return r;
  // The element must be visible before the index that publishes it (§2.7.8).
  std::atomic_thread_fence(std::memory_order_release);
  ++next_used_;
  return memory.write_obj<std::uint16_t>(config_.used_ring + 2, next_used_);
}

Result<bool> SplitQueue::should_notify(const GuestMemory& memory) {
  // The used index store must be visible before the driver's suppression state is read (§2.7.7.2).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint16_t old = signalled_used_;
  signalled_used_ = next_used_;
  if (old == next_used_) return false;  // nothing used since the last notification
  if (config_.event_idx) {
    auto used_event = memory.read_obj<std::uint16_t>(config_.available_ring + 4 + 2ULL * config_.size);
    if (!used_event) return tl::unexpected(used_event.error());
    return need_event(*used_event, next_used_, old);
  }
  auto flags = memory.read_obj<std::uint16_t>(config_.available_ring);
  if (!flags) return tl::unexpected(flags.error());
  return (*flags & kAvailNoInterrupt) == 0;
}

Result<void> SplitQueue::enable_notification(const GuestMemory& memory) {
  if (config_.event_idx) {
    if (auto r = memory.write_obj<std::uint16_t>(config_.used_ring + 4 + 8ULL * config_.size, next_avail_); !r)
      return r;
  } else {
    if (auto r = memory.write_obj<std::uint16_t>(config_.used_ring, 0); !r) return r;
  }
  // The driver must see the request before the device re-checks the available index (§2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return {};
}

}  // namespace hv::virtio
