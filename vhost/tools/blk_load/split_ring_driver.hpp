#pragma once
// The driver's side of one split virtqueue (virtio 1.2 §2.7) in memory this process shares with a
// vhost-user backend: the descriptor table, the available ring it writes, the used ring it reads.
// The load generator's own, small on purpose (hv/virtio/testing's MockSplitDriver is test code, which
// a shipped program may not use): descriptors are written once per request slot and reused, so all
// that moves per request is one available entry and one used entry. Without VIRTIO_RING_F_EVENT_IDX
// the driver honours VRING_USED_F_NO_NOTIFY and asks for every interrupt. With it (`event_idx`) it
// notifies only when the device's avail_event asks (§2.7.10), and asks for an interrupt as a Linux
// guest does: used_event set to the next used entry only when it has consumed everything and is about
// to wait (arm()), so completions that come while it is busy cost the backend no call at all.
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
  SplitRingDriver(std::shared_ptr<const hv::GuestMemory> memory, std::uint64_t base, std::uint16_t size,
                  bool event_idx = false);

  [[nodiscard]] std::uint16_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t descriptor_table() const noexcept { return base_; }
  [[nodiscard]] std::uint64_t available_ring() const noexcept { return base_ + 16ULL * size_; }
  [[nodiscard]] std::uint64_t used_ring() const noexcept;

  hv::Result<void> set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length, std::uint16_t flags,
                                  std::uint16_t next) const;
  // Puts `head` in the next available slot; the device sees it after publish().
  hv::Result<void> add(std::uint16_t head);
  // Publishes what add() queued (a release store of the available index) and says whether the device
  // wants a notification, read after a full fence: VRING_USED_F_NO_NOTIFY clear or, with EVENT_IDX,
  // avail_event among the entries published since the last publish().
  hv::Result<bool> publish();
  // Before waiting for an interrupt, with everything used consumed: with EVENT_IDX, asks for one at
  // the next used entry (used_event); then, after a full fence, says whether the device used more
  // meanwhile (then consume it instead of waiting: its interrupt may not come). Without EVENT_IDX
  // nothing is written; the same check.
  hv::Result<bool> arm();
  // The next used element, if the device returned one since the last call (acquire).
  hv::Result<std::optional<Used>> next_used();

 private:
  std::shared_ptr<const hv::GuestMemory> memory_;
  std::uint64_t base_;
  std::uint16_t size_;
  bool event_idx_;
  std::uint16_t avail_index_ = 0;  // next available index (what publish() stores)
  std::uint16_t published_ = 0;    // the available index the last publish() stored
  std::uint16_t used_seen_ = 0;    // used entries consumed
};

}  // namespace hvload
