#pragma once
// A virtio driver's side of a split virtqueue, for tests, fuzz seeds and benchmarks: lays out the
// descriptor table and rings in guest memory, builds chains (direct or through an indirect table),
// makes them available, and reads what the device used. It writes exactly what a driver writes, so
// tests can also corrupt any of it on purpose. Test code only: unlike the device side, it keeps a
// reference to the memory it was given, so keep it in a scope the memory outlives (a test's stack).

#include <cstdint>
#include <span>
#include <vector>

#include "hv/guest_memory.hpp"
#include "hv/virtio/split_queue.hpp"

namespace hv::virtio::testing {

struct BufferSpec {
  std::uint64_t address = 0;
  std::uint32_t length = 0;
  bool device_writable = false;
};

class MockSplitDriver {
 public:
  // Rings at `base` (page-aligned, inside `memory`): descriptors, then available, then used ring;
  // `indirect_area` is where indirect tables go (each chain's table at the next free 16 bytes).
  MockSplitDriver(const GuestMemory& memory, std::uint64_t base, std::uint16_t size, bool event_idx = false,
                  std::uint64_t indirect_area = 0);

  [[nodiscard]] SplitQueueConfig config() const noexcept { return config_; }
  // Builds a chain in free descriptors and returns its head (not yet available).
  std::uint16_t add_chain(std::span<const BufferSpec> buffers);
  // Builds a one-descriptor chain pointing at an indirect table holding `buffers`.
  std::uint16_t add_indirect_chain(std::span<const BufferSpec> buffers);
  // Puts `head` in the available ring and publishes the new index (with a release fence).
  void make_available(std::uint16_t head);
  // Raw writes for negative tests.
  void write_descriptor(std::uint64_t table, std::uint16_t index, std::uint64_t address, std::uint32_t length,
                        std::uint16_t flags, std::uint16_t next);
  void set_avail_index(std::uint16_t index);
  void set_used_event(std::uint16_t index);
  void set_avail_flags(std::uint16_t flags);

  [[nodiscard]] std::uint16_t used_index() const;
  struct UsedElement {
    std::uint32_t id = 0;
    std::uint32_t length = 0;
  };
  [[nodiscard]] UsedElement used(std::uint16_t position) const;
  [[nodiscard]] std::uint16_t avail_event() const;
  // Frees every descriptor (after the device used them, or after a reset).
  void reset_descriptors();

 private:
  const GuestMemory& memory_;
  SplitQueueConfig config_;
  std::uint16_t next_free_ = 0;
  std::uint16_t avail_index_ = 0;
  std::uint64_t indirect_next_;
};

}  // namespace hv::virtio::testing
