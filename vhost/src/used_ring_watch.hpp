#pragma once
// What the VMM checks of a split ring a vhost-user backend writes (issue #17). The backend writes the
// used ring in guest memory directly; the VMM never takes anything from it but the used index (the
// SET_VRING_BASE of a reconnect), yet a ring left in a state no driver can use must become
// DEVICE_NEEDS_RESET with a clear message rather than whatever the driver makes of it. After each call
// the device's call thread checks what the backend published since the last check:
// - the used index must not be ahead of the available index: a backend cannot use buffers the driver
//   never made available (a jump of more than the queue size past a settled ring is one). Read in
//   this order (used, then available, both acquire), a good device never trips it: it read an
//   available index at least as large before it published. Only "ahead by 1 to 32767" is decidable in
//   16-bit arithmetic; a jump of 32768 or more looks like a ring behind, and is not reported.
// - every used element published since (at most the last queue-size ones: older slots are reused)
//   names a descriptor inside the ring (id < size). A good device's slots hold only good ids, whatever
//   it wrote since, so this has no race either.
// The used length is not checked: the VMM never uses it, and the chain it would be checked against
// is the driver's again once the used index is out (a driver that reuses the descriptor at once would
// make a healthy device look hostile). Bounding it is the driver's job, as on real hardware.

#include <cstdint>

#include "hv/guest_memory.hpp"
#include "hv/error.hpp"
#include "hv/virtio/split_queue.hpp"

namespace hv::vhost {

class UsedRingWatch {
 public:
  // `used`: the used index the ring starts from (the queue's next_used at activation).
  UsedRingWatch(const virtio::SplitQueueConfig& config, std::uint16_t used) noexcept
      : config_(config), checked_used_(used) {}

  // ProtocolViolation naming what is wrong when the ring is unusable; a guest memory error as it comes.
  Result<void> check(const GuestMemory& memory);

 private:
  virtio::SplitQueueConfig config_;
  std::uint16_t checked_used_;  // the used index the last check saw
};

}  // namespace hv::vhost
