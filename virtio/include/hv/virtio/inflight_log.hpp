#pragma once
// A record of the chains a device has taken from a queue and not yet returned, kept outside the
// device's process (vhost-user's INFLIGHT_SHMFD: a shared memory region the frontend holds on to), so
// that a device process that dies in the middle of a request can be started again and finish what it
// had taken: nothing the driver submitted is lost, and nothing is completed twice.
//
// A queue with a log (Queue::track_inflight) reports every chain it takes and returns; the log also
// hands back, before any new chain, the chains a previous incarnation had taken and not returned
// (replay), oldest first. Split queues only: the packed layout's record is another format, which
// hvkit does not keep (a packed queue refuses a log).

#include <cstdint>
#include <optional>

namespace hv::virtio {

class InflightLog {
 public:
  virtual ~InflightLog() = default;
  // The next chain to process again (its head), before the queue takes new ones; nullopt when none.
  virtual std::optional<std::uint16_t> next_replay() noexcept = 0;
  // The queue took chain `head` (popped it, or handed it out for replay): it is now in flight.
  virtual void taken(std::uint16_t head) noexcept = 0;
  // The used entry for `head` is about to be written.
  virtual void completing(std::uint16_t head) noexcept = 0;
  // The used index `used_index` that includes `head` has been published: `head` is done.
  virtual void completed(std::uint16_t head, std::uint16_t used_index) noexcept = 0;
};

}  // namespace hv::virtio
