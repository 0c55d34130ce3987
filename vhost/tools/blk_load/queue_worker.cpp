#include "queue_worker.hpp"

#include <algorithm>

#include "sector_pattern.hpp"

namespace hvload {
namespace {

constexpr const char* kOp = "vhost-user-blk-load";
constexpr std::uint32_t kTypeIn = 0, kTypeOut = 1;  // VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT
constexpr std::uint8_t kStatusOk = 0;

struct RequestHeader {
  std::uint32_t type = 0;
  std::uint32_t reserved = 0;
  std::uint64_t sector = 0;
};
static_assert(sizeof(RequestHeader) == 16);

}  // namespace

QueueWorker::QueueWorker(std::shared_ptr<const hv::GuestMemory> memory, const TargetQueue& target_queue,
                         const LoadOptions& options, std::uint64_t used_bytes)
    : memory_(std::move(memory)),
      queue_(target_queue),
      ring_(memory_, target_queue.layout.rings, target_queue.layout.ring_size, target_queue.layout.event_idx),
      pattern_(options.pattern),
      block_size_(options.block_size),
      iodepth_(options.iodepth),
      blocks_(used_bytes / options.block_size),
      slots_(options.iodepth) {
  const std::uint64_t per_queue = blocks_ / options.queues;
  const std::uint16_t index = target_queue.layout.index;
  slice_first_ = per_queue * index;
  slice_blocks_ = index + 1 == options.queues ? blocks_ - slice_first_ : per_queue;
  rng_state_ = kPatternSeed ^ (0x9e37'79b9'7f4a'7c15ULL * (index + 1));
  for (std::uint32_t s = iodepth_; s > 0; --s) free_.push_back(s - 1);
}

std::string QueueWorker::where() const { return "queue " + std::to_string(queue_.layout.index); }

std::uint64_t QueueWorker::random() noexcept {
  rng_state_ += 0x9e37'79b9'7f4a'7c15ULL;  // splitmix64
  std::uint64_t z = rng_state_;
  z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebULL;
  return z ^ (z >> 31);
}

hv::Result<void> QueueWorker::prepare() {
  const auto& l = queue_.layout;
  for (std::uint32_t s = 0; s < iodepth_; ++s) {
    const auto head = static_cast<std::uint16_t>(3 * s);
    using R = SplitRingDriver;
    if (auto r = ring_.set_descriptor(head, l.headers + 16ULL * s, 16, R::kDescNext, head + 1); !r) return r;
    if (auto r = ring_.set_descriptor(head + 2, l.statuses + s, 1, R::kDescWrite, 0); !r) return r;
  }
  return {};
}

hv::Result<void> QueueWorker::submit(std::uint32_t s, const Request& request) {
  const auto& l = queue_.layout;
  Slot& slot = slots_.at(s);
  const auto head = static_cast<std::uint16_t>(3 * s);
  const std::uint64_t data = l.data + l.data_stride * s;
  if (!slot.data_flags_written || slot.data_is_write != request.write) {
    const std::uint16_t flags = SplitRingDriver::kDescNext | (request.write ? 0 : SplitRingDriver::kDescWrite);
    if (auto r = ring_.set_descriptor(head + 1, data, block_size_, flags, head + 2); !r) return r;
    slot.data_flags_written = true;
    slot.data_is_write = request.write;
  }
  const RequestHeader header{request.write ? kTypeOut : kTypeIn, 0, sector_of(request.block)};
  if (auto r = memory_->write_obj(l.headers + 16ULL * s, header); !r) return r;
  // A status the device did not write is caught: 0xff is no status virtio-blk defines.
  if (auto r = memory_->write_obj<std::uint8_t>(l.statuses + s, 0xff); !r) return r;
  if (request.write) {
    auto buffer = memory_->slice(data, block_size_);
    if (!buffer) return tl::unexpected(buffer.error());
    fill_pattern(*buffer, sector_of(request.block));
  }
  slot.busy = true;
  slot.write = request.write;
  slot.block = request.block;
  slot.submitted = std::chrono::steady_clock::now();
  return ring_.add(head);
}

hv::Result<void> QueueWorker::complete(const SplitRingDriver::Used& used, LatencyHistogram* latency) {
  const auto now = std::chrono::steady_clock::now();
  const std::uint32_t s = used.id / 3;
  if (used.id % 3 != 0 || s >= iodepth_ || !slots_.at(s).busy) {
    return hv::fail(
        hv::ErrorKind::ProtocolViolation, kOp,
        where() + ": the backend used descriptor " + std::to_string(used.id) + ", which heads no request in flight");
  }
  Slot& slot = slots_.at(s);
  const auto& l = queue_.layout;
  const std::string what = where() + ": " + (slot.write ? "write" : "read") + " of " + std::to_string(block_size_) +
                           " bytes at sector " + std::to_string(sector_of(slot.block));
  auto status = memory_->read_obj<std::uint8_t>(l.statuses + s);
  if (!status) return tl::unexpected(status.error());
  if (*status != kStatusOk) {
    return hv::fail(hv::ErrorKind::ProtocolViolation, kOp, what + " failed: status " + std::to_string(*status));
  }
  const std::uint32_t expected = slot.write ? 1 : block_size_ + 1;
  if (used.length != expected) {
    return hv::fail(hv::ErrorKind::ProtocolViolation, kOp,
                    what + ": used length " + std::to_string(used.length) + ", expected " + std::to_string(expected));
  }
  if (!slot.write) {
    auto data = memory_->view(l.data + l.data_stride * s, block_size_);
    if (!data) return tl::unexpected(data.error());
    if (auto bad = first_mismatch(*data, sector_of(slot.block))) {
      return hv::fail(
          hv::ErrorKind::ProtocolViolation, kOp,
          where() + ": sector " + std::to_string(*bad) + " read back does not hold the pattern written to it");
    }
  }
  if (latency != nullptr) {
    latency->record(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.submitted).count()));
  }
  slot.busy = false;
  free_.push_back(s);
  return {};
}

hv::Result<void> QueueWorker::wait_for_completion(std::uint32_t in_flight, std::uint64_t& calls) {
  auto woken = queue_.call.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(kStallLimit));
  if (!woken) return tl::unexpected(woken.error());
  if (!*woken) {
    return hv::fail(hv::ErrorKind::ProtocolViolation, kOp,
                    where() + ": no completion for " + std::to_string(kStallLimit.count()) + " s with " +
                        std::to_string(in_flight) + " request(s) in flight");
  }
  // Busy if a racing read emptied it: nothing lost, the ring is read next.
  if (auto n = queue_.call.consume()) calls += *n;
  return {};
}

template <class Next>
hv::Result<void> QueueWorker::run(Next next, LatencyHistogram* latency, std::uint64_t& completed,
                                  std::uint64_t& calls) {
  bool more = true;
  auto in_flight = [&] { return static_cast<std::uint32_t>(iodepth_ - free_.size()); };
  auto fill = [&]() -> hv::Result<void> {
    bool added = false;
    while (more && !free_.empty()) {
      const std::optional<Request> request = next();
      if (!request) {
        more = false;
        break;
      }
      const std::uint32_t s = free_.back();
      free_.pop_back();
      if (auto r = submit(s, *request); !r) return r;
      added = true;
    }
    if (!added) return {};
    auto kick = ring_.publish();
    if (!kick) return tl::unexpected(kick.error());
    if (*kick) return queue_.kick.signal();
    return {};
  };
  if (auto r = fill(); !r) return r;
  while (in_flight() > 0) {
    bool any = false;
    for (;;) {
      auto used = ring_.next_used();
      if (!used) return tl::unexpected(used.error());
      if (!*used) break;
      if (auto r = complete(**used, latency); !r) return r;
      ++completed;
      any = true;
    }
    if (any) {
      if (auto r = fill(); !r) return r;
      continue;
    }
    // Everything used is consumed: ask for the next interrupt (EVENT_IDX), and consume what came
    // meanwhile rather than wait for an interrupt that was asked for too late.
    auto used_meanwhile = ring_.arm();
    if (!used_meanwhile) return tl::unexpected(used_meanwhile.error());
    if (*used_meanwhile) continue;
    if (auto r = wait_for_completion(in_flight(), calls); !r) return r;
  }
  return {};
}

hv::Result<void> QueueWorker::prefill() {
  std::uint64_t block = 0;
  std::uint64_t done = 0;
  std::uint64_t calls = 0;
  return run(
      [&]() -> std::optional<Request> {
        if (block == slice_blocks_) return std::nullopt;
        return Request{true, slice_first_ + block++};
      },
      nullptr, done, calls);
}

hv::Result<void> QueueWorker::measure(std::chrono::milliseconds duration, QueueResult& result) {
  const bool write = !is_read(pattern_);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + duration;
  auto r = run(
      [&]() -> std::optional<Request> {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        if (is_random(pattern_)) return Request{write, random() % blocks_};
        const std::uint64_t block = slice_first_ + cursor_;
        cursor_ = (cursor_ + 1) % slice_blocks_;
        return Request{write, block};
      },
      &result.latency, result.completed, result.calls);
  result.elapsed = std::chrono::steady_clock::now() - start;
  return r;
}

}  // namespace hvload
