#pragma once
// The in-flight record of vhost-user's INFLIGHT_SHMFD (docs/interop/vhost-user.rst, "Inflight I/O
// tracking"), split rings: a shared memory region the backend creates (GET_INFLIGHT_FD) and the
// frontend keeps and hands back to every backend process it connects (SET_INFLIGHT_FD), so that a
// backend killed in the middle of requests can be restarted and complete exactly the requests it had
// taken and not returned. The layout is the one QEMU's libvhost-user and DPDK use, per queue at
// q * inflight_queue_bytes(queue_size):
//   u64 features, u16 version, u16 desc_num, u16 last_batch_head, u16 used_idx,
//   then queue_size entries of {u8 inflight, u8 padding[5], u16 next, u64 counter} (16 bytes each).
// The region's contents are untrusted (the frontend can write them, and a dying process may have left
// them half-written): recovery validates every field it uses.

#include <cstdint>
#include <memory>
#include <vector>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vhost/protocol.hpp"
#include "hv/virtio/inflight_log.hpp"

namespace hv::vhost {

inline constexpr std::uint64_t kInflightAlignment = 64;
inline constexpr std::uint16_t kInflightVersion = 1;
// Bytes of one queue's record for rings of up to `queue_size` entries.
constexpr std::uint64_t inflight_queue_bytes(std::uint16_t queue_size) noexcept {
  return (16 + 16ULL * queue_size + kInflightAlignment - 1) / kInflightAlignment * kInflightAlignment;
}

class QueueInflight;

class InflightRegion {
 public:
  // A new, zeroed region for `num_queues` queues of up to `queue_size` entries (GET_INFLIGHT_FD);
  // its memfd goes to the frontend. InvalidArgument for 0 queues or a size above 32768.
  static Result<std::shared_ptr<InflightRegion>> create(std::uint16_t num_queues, std::uint16_t queue_size);
  // The region a frontend sent (SET_INFLIGHT_FD), already mapped: `mapping` holds the fd's bytes
  // from description.mmap_offset on. Refused unless the description is consistent and the mapping
  // holds num_queues records of queue_size entries.
  static Result<std::shared_ptr<InflightRegion>> adopt(std::shared_ptr<GuestRegion> mapping,
                                                       const Inflight& description);

  // What GET_INFLIGHT_FD replies (mmap_offset 0, the whole memfd).
  [[nodiscard]] Inflight description() const noexcept { return description_; }
  // The memfd (create()) or -1 (adopt(): the frontend has it).
  [[nodiscard]] int fd() const noexcept;

  // Queue `index`'s log for a ring of `ring_size` entries whose used index, as the guest memory shows
  // it now, is `used_index`. A fresh record is initialised; one a previous backend left is recovered:
  // its last half-completed request is settled and its in-flight chains become the log's replay list.
  Result<std::shared_ptr<QueueInflight>> queue(std::uint16_t index, std::uint16_t ring_size, std::uint16_t used_index);

 private:
  InflightRegion(std::shared_ptr<GuestRegion> mapping, Inflight description);
  std::shared_ptr<GuestRegion> mapping_;
  GuestMemory memory_;  // the region at address 0: bounds-checked, atomic access to its fields
  Inflight description_;
};

class QueueInflight final : public virtio::InflightLog {
 public:
  // Where the device continues in the available ring: the used index plus the chains in flight
  // (every chain before it was taken; the in-flight ones are replayed).
  [[nodiscard]] std::uint16_t next_avail() const noexcept { return next_avail_; }
  [[nodiscard]] std::size_t replay_count() const noexcept { return replay_.size() - replayed_; }

  std::optional<std::uint16_t> next_replay() noexcept override;
  void taken(std::uint16_t head) noexcept override;
  void completing(std::uint16_t head) noexcept override;
  void completed(std::uint16_t head, std::uint16_t used_index) noexcept override;

 private:
  friend class InflightRegion;
  QueueInflight(std::shared_ptr<GuestRegion> mapping, const GuestMemory& memory, std::uint64_t base,
                std::uint16_t ring_size) noexcept
      : mapping_(std::move(mapping)), memory_(memory), base_(base), ring_size_(ring_size) {}
  [[nodiscard]] std::uint64_t entry(std::uint16_t head) const noexcept { return base_ + 16 + 16ULL * head; }
  std::shared_ptr<GuestRegion> mapping_;  // keeps the region mapped while the log lives
  GuestMemory memory_;
  std::uint64_t base_;
  std::uint16_t ring_size_;
  std::uint16_t next_avail_ = 0;
  std::uint64_t counter_ = 0;
  std::vector<std::uint16_t> replay_;  // oldest first
  std::size_t replayed_ = 0;
};

}  // namespace hv::vhost
