#include "hv/vhost/inflight.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>

namespace hv::vhost {
namespace {

constexpr const char* kOp = "vhost-user inflight";
constexpr std::uint64_t kPage = 4096;
// Field offsets in one queue's record.
constexpr std::uint64_t kVersionOffset = 8, kDescNumOffset = 10, kLastBatchOffset = 12, kUsedIdxOffset = 14;
// ... and in one entry.
constexpr std::uint64_t kCounterOffset = 8;

Error corrupt(const std::string& what) { return Error(ErrorKind::ProtocolViolation, kOp, what); }

}  // namespace

InflightRegion::InflightRegion(std::shared_ptr<GuestRegion> mapping, Inflight description)
    : mapping_(std::move(mapping)), description_(description) {}

int InflightRegion::fd() const noexcept { return mapping_->memfd(); }

Result<std::shared_ptr<InflightRegion>> InflightRegion::create(std::uint16_t num_queues, std::uint16_t queue_size) {
  if (num_queues == 0 || queue_size == 0 || queue_size > 32768)
    return fail(ErrorKind::InvalidArgument, kOp,
                "GET_INFLIGHT_FD for " + std::to_string(num_queues) + " queues of " + std::to_string(queue_size) +
                    " entries (1.. queues of 1..32768)");
  const std::uint64_t bytes = inflight_queue_bytes(queue_size) * num_queues;
  const std::uint64_t mapped = (bytes + kPage - 1) / kPage * kPage;
  auto region = GuestRegion::create(0, mapped, Backing::Memfd);
  if (!region) return tl::unexpected(region.error());
  Inflight d;
  d.mmap_size = bytes;
  d.mmap_offset = 0;
  d.num_queues = num_queues;
  d.queue_size = queue_size;
  std::shared_ptr<InflightRegion> r(new InflightRegion(std::move(*region), d));
  if (auto added = r->memory_.add_region(r->mapping_); !added) return tl::unexpected(added.error());
  return r;
}

Result<std::shared_ptr<InflightRegion>> InflightRegion::adopt(std::shared_ptr<GuestRegion> mapping, const Inflight& d) {
  if (!mapping) return fail(ErrorKind::InvalidArgument, kOp, "no mapping");
  if (d.num_queues == 0 || d.queue_size == 0 || d.queue_size > 32768)
    return tl::unexpected(corrupt("SET_INFLIGHT_FD for " + std::to_string(d.num_queues) + " queues of " +
                                  std::to_string(d.queue_size) + " entries"));
  const std::uint64_t needed = inflight_queue_bytes(d.queue_size) * d.num_queues;
  if (d.mmap_size < needed || mapping->size() < needed)
    return tl::unexpected(corrupt("SET_INFLIGHT_FD region of " + std::to_string(d.mmap_size) + " bytes (mapped " +
                                  std::to_string(mapping->size()) + ") is smaller than " + std::to_string(needed) +
                                  " for its queues"));
  std::shared_ptr<InflightRegion> r(new InflightRegion(std::move(mapping), d));
  if (auto added = r->memory_.add_region(r->mapping_); !added) return tl::unexpected(added.error());
  return r;
}

Result<std::shared_ptr<QueueInflight>> InflightRegion::queue(std::uint16_t index, std::uint16_t ring_size,
                                                             std::uint16_t used_index) {
  if (index >= description_.num_queues)
    return tl::unexpected(corrupt("queue " + std::to_string(index) + " has no record (the region holds " +
                                  std::to_string(description_.num_queues) + ")"));
  if (ring_size == 0 || ring_size > description_.queue_size)
    return tl::unexpected(corrupt("ring of " + std::to_string(ring_size) + " entries does not fit a record of " +
                                  std::to_string(description_.queue_size)));
  const std::uint64_t base = inflight_queue_bytes(description_.queue_size) * index;
  std::shared_ptr<QueueInflight> log(new QueueInflight(mapping_, memory_, base, ring_size));
  const GuestMemory& m = memory_;
  auto version = m.read_obj<std::uint16_t>(base + kVersionOffset);
  if (!version) return tl::unexpected(version.error());
  if (*version == 0) {  // a fresh record: nothing in flight
    for (std::uint16_t i = 0; i < ring_size; ++i) {
      if (auto w = m.write_obj<std::uint8_t>(log->entry(i), 0); !w) return tl::unexpected(w.error());
    }
    if (auto w = m.write_obj<std::uint16_t>(base + kDescNumOffset, ring_size); !w) return tl::unexpected(w.error());
    if (auto w = m.write_obj<std::uint16_t>(base + kUsedIdxOffset, used_index); !w) return tl::unexpected(w.error());
    if (auto w = m.store<std::uint16_t>(base + kVersionOffset, kInflightVersion, std::memory_order_release); !w)
      return tl::unexpected(w.error());
    log->next_avail_ = used_index;
    return log;
  }
  if (*version != kInflightVersion)
    return tl::unexpected(corrupt("queue " + std::to_string(index) + ": record version " + std::to_string(*version)));
  auto desc_num = m.read_obj<std::uint16_t>(base + kDescNumOffset);
  auto last_batch = m.read_obj<std::uint16_t>(base + kLastBatchOffset);
  auto logged_used = m.read_obj<std::uint16_t>(base + kUsedIdxOffset);
  if (!desc_num || !last_batch || !logged_used) return tl::unexpected(corrupt("record unreadable"));
  if (*desc_num != ring_size)
    return tl::unexpected(corrupt("queue " + std::to_string(index) + ": record kept for a ring of " +
                                  std::to_string(*desc_num) + " entries, the ring now has " +
                                  std::to_string(ring_size)));
  // The previous process published a used entry and died before clearing its record: that request
  // is done (the driver has seen it). One entry per batch: the device returns chains one at a time.
  if (*logged_used != used_index) {
    if (static_cast<std::uint16_t>(used_index - *logged_used) != 1 || *last_batch >= ring_size)
      return tl::unexpected(corrupt("queue " + std::to_string(index) + ": used index " + std::to_string(used_index) +
                                    " in the ring, " + std::to_string(*logged_used) + " in the record"));
    if (auto w = m.write_obj<std::uint8_t>(log->entry(*last_batch), 0); !w) return tl::unexpected(w.error());
    if (auto w = m.store<std::uint16_t>(base + kUsedIdxOffset, used_index, std::memory_order_release); !w)
      return tl::unexpected(w.error());
  }
  std::vector<std::pair<std::uint64_t, std::uint16_t>> in_flight;  // (counter, head)
  for (std::uint16_t head = 0; head < ring_size; ++head) {
    auto flag = m.read_obj<std::uint8_t>(log->entry(head));
    auto counter = m.read_obj<std::uint64_t>(log->entry(head) + kCounterOffset);
    if (!flag || !counter) return tl::unexpected(corrupt("record unreadable"));
    if (*flag > 1)
      return tl::unexpected(corrupt("queue " + std::to_string(index) + ": entry " + std::to_string(head) +
                                    " has in-flight flag " + std::to_string(*flag)));
    if (*flag == 1) in_flight.emplace_back(*counter, head);
  }
  std::sort(in_flight.begin(), in_flight.end());
  for (const auto& [counter, head] : in_flight) {
    log->replay_.push_back(head);
    log->counter_ = std::max(log->counter_, counter);
  }
  log->next_avail_ = static_cast<std::uint16_t>(used_index + in_flight.size());
  return log;
}

std::optional<std::uint16_t> QueueInflight::next_replay() noexcept {
  if (replayed_ == replay_.size()) return std::nullopt;
  return replay_[replayed_++];
}

// The stores below cannot fail: every offset lies inside the record InflightRegion::queue() checked
// against the mapping. Each is ordered for a crash between any two of them: an entry is marked only
// after its counter, and the used index moves only after the entry is cleared.
void QueueInflight::taken(std::uint16_t head) noexcept {
  if (head >= ring_size_) return;
  (void)memory_.store<std::uint64_t>(entry(head) + kCounterOffset, ++counter_, std::memory_order_relaxed);
  (void)memory_.store<std::uint8_t>(entry(head), 1, std::memory_order_release);
}

void QueueInflight::completing(std::uint16_t head) noexcept {
  (void)memory_.store<std::uint16_t>(base_ + kLastBatchOffset, head, std::memory_order_release);
}

void QueueInflight::completed(std::uint16_t head, std::uint16_t used_index) noexcept {
  if (head >= ring_size_) return;
  (void)memory_.store<std::uint8_t>(entry(head), 0, std::memory_order_release);
  (void)memory_.store<std::uint16_t>(base_ + kUsedIdxOffset, used_index, std::memory_order_release);
}

}  // namespace hv::vhost
