#pragma once
// A virtio driver's side of a packed virtqueue, for tests, fuzz seeds and benchmarks: writes lists
// into the descriptor ring with the AVAIL/USED bits its wrap counter calls for (the head's flags last),
// builds indirect tables, reads what the device used, and writes its event suppression structure.
// Like MockSplitDriver it keeps a reference to the memory: test code, scoped inside the memory's life.

#include <cstdint>
#include <span>

#include "hv/guest_memory.hpp"
#include "hv/virtio/packed_queue.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace hv::virtio::testing {

class MockPackedDriver {
 public:
  // Descriptor ring at `base` (16-aligned), then the driver and device event suppression structures.
  MockPackedDriver(const GuestMemory& memory, std::uint64_t base, std::uint16_t size, bool event_idx = false,
                   std::uint64_t indirect_area = 0);

  [[nodiscard]] PackedQueueConfig config() const noexcept { return config_; }
  // Makes a list of `buffers` available under buffer `id`; returns the ring slot of its head.
  std::uint16_t add_chain(std::span<const BufferSpec> buffers, std::uint16_t id);
  std::uint16_t add_indirect_chain(std::span<const BufferSpec> buffers, std::uint16_t id);
  // Raw descriptor write (flags exactly as given) for negative tests.
  void write_descriptor(std::uint16_t slot, std::uint64_t address, std::uint32_t length, std::uint16_t id,
                        std::uint16_t flags);
  [[nodiscard]] std::uint16_t avail_flags() const noexcept;  // AVAIL/USED bits for the current wrap
  void set_driver_event(std::uint16_t off_wrap, std::uint16_t flags);

  struct UsedDescriptor {
    std::uint16_t id = 0;
    std::uint32_t length = 0;
    std::uint16_t flags = 0;
  };
  [[nodiscard]] UsedDescriptor descriptor(std::uint16_t slot) const;
  [[nodiscard]] std::uint16_t next_slot() const noexcept { return next_; }

 private:
  const GuestMemory& memory_;
  PackedQueueConfig config_;
  std::uint16_t next_ = 0;
  bool wrap_ = true;
  std::uint64_t indirect_next_;
};

}  // namespace hv::virtio::testing
