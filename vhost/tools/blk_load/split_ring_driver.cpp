#include "split_ring_driver.hpp"

#include <atomic>

namespace hvload {
namespace {
constexpr std::uint64_t kPage = 4096;
constexpr std::uint16_t kUsedNoNotify = 1;
std::uint64_t page_up(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }
}  // namespace

std::uint64_t SplitRingDriver::footprint(std::uint16_t size) noexcept {
  const std::uint64_t table_and_avail = 16ULL * size + 6 + 2ULL * size;
  return page_up(table_and_avail) + page_up(6 + 8ULL * size);
}

SplitRingDriver::SplitRingDriver(std::shared_ptr<const hv::GuestMemory> memory, std::uint64_t base, std::uint16_t size,
                                 bool event_idx)
    : memory_(std::move(memory)), base_(base), size_(size), event_idx_(event_idx) {}

std::uint64_t SplitRingDriver::used_ring() const noexcept { return base_ + page_up(16ULL * size_ + 6 + 2ULL * size_); }

hv::Result<void> SplitRingDriver::set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length,
                                                 std::uint16_t flags, std::uint16_t next) const {
  const std::uint64_t at = base_ + 16ULL * index;
  if (auto r = memory_->write_obj(at, address); !r) return r;
  if (auto r = memory_->write_obj(at + 8, length); !r) return r;
  if (auto r = memory_->write_obj(at + 12, flags); !r) return r;
  return memory_->write_obj(at + 14, next);
}

hv::Result<void> SplitRingDriver::add(std::uint16_t head) {
  const std::uint64_t slot = available_ring() + 4 + 2ULL * (avail_index_ % size_);
  if (auto r = memory_->write_obj(slot, head); !r) return r;
  ++avail_index_;
  return {};
}

hv::Result<bool> SplitRingDriver::publish() {
  if (auto r = memory_->store<std::uint16_t>(available_ring() + 2, avail_index_, std::memory_order_release); !r) {
    return tl::unexpected(r.error());
  }
  // The index store must be visible before the flag is read, or a device that is just going to sleep
  // (clearing NO_NOTIFY after a last look at the index) would miss both.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint16_t old = published_;
  published_ = avail_index_;
  if (event_idx_) {
    // vring_need_event(avail_event, new, old): the device asked to be told when entry avail_event
    // was made available, and this publish made it so.
    auto event = memory_->load<std::uint16_t>(used_ring() + 4 + 8ULL * size_, std::memory_order_relaxed);
    if (!event) return tl::unexpected(event.error());
    return static_cast<std::uint16_t>(avail_index_ - *event - 1) < static_cast<std::uint16_t>(avail_index_ - old);
  }
  auto flags = memory_->load<std::uint16_t>(used_ring(), std::memory_order_relaxed);
  if (!flags) return tl::unexpected(flags.error());
  return (*flags & kUsedNoNotify) == 0;
}

hv::Result<bool> SplitRingDriver::arm() {
  if (event_idx_) {
    // used_event sits after the available ring's entries.
    if (auto r =
            memory_->store<std::uint16_t>(available_ring() + 4 + 2ULL * size_, used_seen_, std::memory_order_relaxed);
        !r) {
      return tl::unexpected(r.error());
    }
  }
  // The device reads used_event after publishing a used index: either it sees this one, or this
  // load sees its index.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto index = memory_->load<std::uint16_t>(used_ring() + 2, std::memory_order_relaxed);
  if (!index) return tl::unexpected(index.error());
  return *index != used_seen_;
}

hv::Result<std::optional<SplitRingDriver::Used>> SplitRingDriver::next_used() {
  auto index = memory_->load<std::uint16_t>(used_ring() + 2, std::memory_order_acquire);
  if (!index) return tl::unexpected(index.error());
  if (*index == used_seen_) return std::optional<Used>{};
  const std::uint64_t element = used_ring() + 4 + 8ULL * (used_seen_ % size_);
  auto id = memory_->read_obj<std::uint32_t>(element);
  if (!id) return tl::unexpected(id.error());
  auto length = memory_->read_obj<std::uint32_t>(element + 4);
  if (!length) return tl::unexpected(length.error());
  ++used_seen_;
  return std::optional<Used>{Used{*id, *length}};
}

}  // namespace hvload
