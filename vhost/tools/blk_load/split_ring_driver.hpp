#pragma once
// The driver's side of one split virtqueue (virtio 1.2 §2.7) in memory this process shares with a
// vhost-user backend: the descriptor table, the available ring it writes, the used ring it reads.
// The load generator's own, small on purpose (hv/virtio/testing's MockSplitDriver is test code, which
// a shipped program may not use): descriptors are written once per request slot and reused, so all
// that moves per request is one available entry and one used entry. No EVENT_IDX: the driver honours
// VRING_USED_F_NO_NOTIFY and asks for every interrupt, as a Linux guest does without that feature.
//
// The backend is another process: what it writes to the used ring is checked by the caller.

#include <cstdint>
#include <memory>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"

namespace hvload {

class SplitRingDriver {
 public:
  static constexpr std::uint16_t kDescNext = 1, kDescWrite = 2;

  struct Used {
    std::uint32_t id = 0;
    std::uint32_t length = 0;
  };

  // The bytes the rings of a queue of `size` entries take from a page-aligned base: the table and
  // the available ring, then the used ring at the next page.
  [[nodiscard]] static std::uint64_t footprint(std::uint16_t size) noexcept;

  // Rings at `base` (page-aligned) in `memory`, `size` a power of two; the rings start zeroed
  // (a fresh memfd).
  SplitRingDriver(std::shared_ptr<const hv::GuestMemory> memory, std::uint64_t base, std::uint16_t size);

  [[nodiscard]] std::uint16_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t descriptor_table() const noexcept { return base_; }
  [[nodiscard]] std::uint64_t available_ring() const noexcept { return base_ + 16ULL * size_; }
  [[nodiscard]] std::uint64_t used_ring() const noexcept;

  hv::Result<void> set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length, std::uint16_t flags,
                                  std::uint16_t next) const;
  // Puts `head` in the next available slot; the device sees it after publish().
  hv::Result<void> add(std::uint16_t head);
  // Publishes what add() queued (a release store of the available index) and says whether the device
  // wants a notification (VRING_USED_F_NO_NOTIFY clear, read after a full fence).
  hv::Result<bool> publish();
  // The next used element, if the device returned one since the last call (acquire).
  hv::Result<std::optional<Used>> next_used();

 private:
  std::shared_ptr<const hv::GuestMemory> memory_;
  std::uint64_t base_;
  std::uint16_t size_;
  std::uint16_t avail_index_ = 0;  // next available index (what publish() stores)
  std::uint16_t used_seen_ = 0;    // used entries consumed
};

}  // namespace hvload
