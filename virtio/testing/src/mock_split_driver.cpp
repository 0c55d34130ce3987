#include "hv/virtio/testing/mock_split_driver.hpp"

#include <atomic>
#include <stdexcept>

namespace hv::virtio::testing {

namespace {
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirect = 4;

void must(const Result<void>& r) {
  if (!r) throw std::runtime_error(r.error().to_string());  // test code: a layout bug in the test itself
}
}  // namespace

MockSplitDriver::MockSplitDriver(const GuestMemory& memory, std::uint64_t base, std::uint16_t size, bool event_idx,
                                 std::uint64_t indirect_area)
    : memory_(memory), indirect_next_(indirect_area) {
  config_.size = size;
  config_.descriptor_table = base;
  config_.available_ring = base + 16ULL * size;
  // The used ring on its own 4-byte boundary after the available ring (with its used_event slot).
  config_.used_ring = (config_.available_ring + 6 + 2ULL * size + 3) & ~3ULL;
  config_.event_idx = event_idx;
  must(memory_.write(base, std::vector<std::uint8_t>(16ULL * size + 6 + 2ULL * size + 4 + 6 + 8ULL * size + 8, 0)));
}

void MockSplitDriver::write_descriptor(std::uint64_t table, std::uint16_t index, std::uint64_t address,
                                       std::uint32_t length, std::uint16_t flags, std::uint16_t next) {
  must(memory_.write_obj(table + 16ULL * index, address));
  must(memory_.write_obj(table + 16ULL * index + 8, length));
  must(memory_.write_obj(table + 16ULL * index + 12, flags));
  must(memory_.write_obj(table + 16ULL * index + 14, next));
}

std::uint16_t MockSplitDriver::add_chain(std::span<const BufferSpec> buffers) {
  const std::uint16_t head = next_free_;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const std::uint16_t index = static_cast<std::uint16_t>((head + i) % config_.size);
    const bool last = i + 1 == buffers.size();
    const std::uint16_t flags =
        static_cast<std::uint16_t>((buffers[i].device_writable ? kWrite : 0) | (last ? 0 : kNext));
    write_descriptor(config_.descriptor_table, index, buffers[i].address, buffers[i].length, flags,
                     static_cast<std::uint16_t>((index + 1) % config_.size));
  }
  next_free_ = static_cast<std::uint16_t>((head + buffers.size()) % config_.size);
  return head;
}

std::uint16_t MockSplitDriver::add_indirect_chain(std::span<const BufferSpec> buffers) {
  const std::uint64_t table = indirect_next_;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    const std::uint16_t flags =
        static_cast<std::uint16_t>((buffers[i].device_writable ? kWrite : 0) | (last ? 0 : kNext));
    write_descriptor(table, static_cast<std::uint16_t>(i), buffers[i].address, buffers[i].length, flags,
                     static_cast<std::uint16_t>(i + 1));
  }
  indirect_next_ += 16ULL * buffers.size();
  const std::uint16_t head = next_free_;
  write_descriptor(config_.descriptor_table, head, table, static_cast<std::uint32_t>(16 * buffers.size()), kIndirect,
                   0);
  next_free_ = static_cast<std::uint16_t>((head + 1) % config_.size);
  return head;
}

void MockSplitDriver::make_available(std::uint16_t head) {
  must(memory_.write_obj(config_.available_ring + 4 + 2ULL * (avail_index_ % config_.size), head));
  std::atomic_thread_fence(std::memory_order_release);
  ++avail_index_;
  set_avail_index(avail_index_);
}

// The index fields a device reads while it runs (on its own threads) are shared words: atomic
// accesses, as a real driver's (and what ThreadSanitizer needs to see the entries ordered).
void MockSplitDriver::set_avail_index(std::uint16_t index) {
  must(memory_.store<std::uint16_t>(config_.available_ring + 2, index, std::memory_order_release));
}
void MockSplitDriver::set_avail_flags(std::uint16_t flags) { must(memory_.write_obj(config_.available_ring, flags)); }
void MockSplitDriver::set_used_event(std::uint16_t index) {
  must(
      memory_.store<std::uint16_t>(config_.available_ring + 4 + 2ULL * config_.size, index, std::memory_order_seq_cst));
}

std::uint16_t MockSplitDriver::used_index() const {
  return memory_.load<std::uint16_t>(config_.used_ring + 2, std::memory_order_acquire).value();
}

MockSplitDriver::UsedElement MockSplitDriver::used(std::uint16_t position) const {
  const std::uint64_t slot = config_.used_ring + 4 + 8ULL * (position % config_.size);
  return {memory_.read_obj<std::uint32_t>(slot).value(), memory_.read_obj<std::uint32_t>(slot + 4).value()};
}

std::uint16_t MockSplitDriver::avail_event() const {
  return memory_.read_obj<std::uint16_t>(config_.used_ring + 4 + 8ULL * config_.size).value();
}

void MockSplitDriver::reset_descriptors() { next_free_ = 0; }

}  // namespace hv::virtio::testing
