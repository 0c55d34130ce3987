#include "hv/virtio/testing/mock_packed_driver.hpp"

#include <atomic>
#include <stdexcept>
#include <vector>

namespace hv::virtio::testing {

namespace {
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirect = 4, kAvail = 1U << 7, kUsed = 1U << 15;

void must(const Result<void>& r) {
  if (!r) throw std::runtime_error(r.error().to_string());  // test code: a layout bug in the test itself
}
}  // namespace

MockPackedDriver::MockPackedDriver(const GuestMemory& memory, std::uint64_t base, std::uint16_t size, bool event_idx,
                                   std::uint64_t indirect_area)
    : memory_(memory), indirect_next_(indirect_area) {
  config_.size = size;
  config_.descriptor_ring = base;
  config_.driver_event = base + 16ULL * size;
  config_.device_event = config_.driver_event + 4;
  config_.event_idx = event_idx;
  must(memory_.write(base, std::vector<std::uint8_t>(16ULL * size + 8, 0)));  // the ring starts zeroed (§2.8.13)
}

std::uint16_t MockPackedDriver::avail_flags() const noexcept { return wrap_ ? kAvail : kUsed; }

void MockPackedDriver::write_descriptor(std::uint16_t slot, std::uint64_t address, std::uint32_t length,
                                        std::uint16_t id, std::uint16_t flags) {
  const std::uint64_t at = config_.descriptor_ring + 16ULL * slot;
  must(memory_.write_obj(at, address));
  must(memory_.write_obj(at + 8, length));
  must(memory_.write_obj(at + 12, id));
  std::atomic_thread_fence(std::memory_order_release);
  must(memory_.write_obj(at + 14, flags));
}

std::uint16_t MockPackedDriver::add_chain(std::span<const BufferSpec> buffers, std::uint16_t id) {
  const std::uint16_t head = next_;
  std::uint16_t head_flags = 0;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    const auto flags =
        static_cast<std::uint16_t>(avail_flags() | (buffers[i].device_writable ? kWrite : 0) | (last ? 0 : kNext));
    if (i == 0) {
      head_flags = flags;  // written last, after the rest of the list (§2.8.6)
      must(memory_.write_obj(config_.descriptor_ring + 16ULL * next_, buffers[i].address));
      must(memory_.write_obj(config_.descriptor_ring + 16ULL * next_ + 8, buffers[i].length));
      must(memory_.write_obj(config_.descriptor_ring + 16ULL * next_ + 12, id));
    } else {
      write_descriptor(next_, buffers[i].address, buffers[i].length, id, flags);
    }
    if (++next_ == config_.size) {
      next_ = 0;
      wrap_ = !wrap_;
    }
  }
  std::atomic_thread_fence(std::memory_order_release);
  must(memory_.write_obj(config_.descriptor_ring + 16ULL * head + 14, head_flags));
  return head;
}

std::uint16_t MockPackedDriver::add_indirect_chain(std::span<const BufferSpec> buffers, std::uint16_t id) {
  const std::uint64_t table = indirect_next_;
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const std::uint64_t at = table + 16 * i;
    must(memory_.write_obj(at, buffers[i].address));
    must(memory_.write_obj(at + 8, buffers[i].length));
    must(memory_.write_obj<std::uint16_t>(at + 12, 0));
    must(memory_.write_obj<std::uint16_t>(at + 14, buffers[i].device_writable ? kWrite : 0));
  }
  indirect_next_ += 16ULL * buffers.size();
  const std::uint16_t head = next_;
  write_descriptor(head, table, static_cast<std::uint32_t>(16 * buffers.size()), id,
                   static_cast<std::uint16_t>(avail_flags() | kIndirect));
  if (++next_ == config_.size) {
    next_ = 0;
    wrap_ = !wrap_;
  }
  return head;
}

void MockPackedDriver::set_driver_event(std::uint16_t off_wrap, std::uint16_t flags) {
  must(memory_.write_obj(config_.driver_event, off_wrap));
  must(memory_.write_obj(config_.driver_event + 2, flags));
}

MockPackedDriver::UsedDescriptor MockPackedDriver::descriptor(std::uint16_t slot) const {
  const std::uint64_t at = config_.descriptor_ring + 16ULL * slot;
  return {memory_.read_obj<std::uint16_t>(at + 12).value(), memory_.read_obj<std::uint32_t>(at + 8).value(),
          memory_.read_obj<std::uint16_t>(at + 14).value()};
}

}  // namespace hv::virtio::testing
