#pragma once
// The backend side of one vhost-user connection: the protocol state machine that serves a
// hv::virtio::VirtioDevice to a frontend (QEMU, hvctl) over a Channel.
//
// What it speaks (QEMU 7.2's requests for vhost-user-blk and -rng): GET/SET_FEATURES,
// GET/SET_PROTOCOL_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, ADD/REM_MEM_REG,
// GET_MAX_MEM_SLOTS, SET_VRING_NUM/ADDR/BASE, GET_VRING_BASE, SET_VRING_KICK/CALL/ERR, GET_QUEUE_NUM,
// SET_VRING_ENABLE, GET/SET_CONFIG, SET/GET_STATUS, RESET_DEVICE and GET/SET_INFLIGHT_FD. Protocol
// features offered: MQ, REPLY_ACK, CONFIG, CONFIGURE_MEM_SLOTS, STATUS, RESET_DEVICE, INFLIGHT_SHMFD.
// With an in-flight region (SET_INFLIGHT_FD) a split ring records the chains the device takes and
// returns (hv/vhost/inflight.hpp); when it starts, the record a previous backend process left decides
// where it continues and which chains are processed again (packed rings are not recorded). Virtio
// features offered: the device's, VERSION_1, RING_PACKED, EVENT_IDX, INDIRECT_DESC, and bit 30
// (PROTOCOL_FEATURES).
//
// The device: a ring is started when it has a size, addresses, a kick descriptor and is enabled
// (enabled from the start when bit 30 was not negotiated). Whenever the set of started rings or the
// memory table changes, the session stops the device (VirtioDevice::stop: it completes what it took
// and returns the queues with their positions), and activates it again with every started ring,
// rebuilt over the current memory from where each left off (SplitQueue/PackedQueue::restore). A device
// that refuses the set (a console with only one of its two rings) simply waits for more rings. One
// thread per active ring waits on its kick descriptor and calls device->notify(index); the device's
// used-buffer signal writes that ring's call descriptor, its needs-reset signal sets DEVICE_NEEDS_RESET
// in the status and writes the ring's error descriptor.
//
// The frontend is untrusted: every payload size (payload_as) and descriptor count (expect_fds) is
// checked per request, ring indices and sizes are bounded, ring addresses must lie inside the memory
// table. A request that is wrong but leaves the session usable is refused: REPLY_ACK's answer is
// non-zero when the frontend asked for one, and it is logged either way. A request that asks for a
// reply the session cannot give (GET_VRING_BASE on a ring that does not exist), or a message the
// channel cannot frame, ends the session. Threat model: docs/threat-model/vhost-user.md, "Backend".
//
// Threads: run() (or handle()) on one thread; the session's own kick threads (each runs the
// ThreadStart hook first); the device's threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hv/error.hpp"
#include "hv/virtio/device.hpp"
#include "hv/vhost/backend_memory.hpp"
#include "hv/vhost/channel.hpp"

namespace hv::vhost {

// Protocol features the backend offers (GET_PROTOCOL_FEATURES).
inline constexpr std::uint64_t kBackendProtocolFeatures =
    protocol_feature::kMq | protocol_feature::kReplyAck | protocol_feature::kConfig |
    protocol_feature::kConfigureMemSlots | protocol_feature::kStatus | protocol_feature::kResetDevice |
    protocol_feature::kInflightShmfd;

// VIRTIO_CONFIG_S_NEEDS_RESET (virtio 1.2 §2.1): set in GET_STATUS once the device broke down.
inline constexpr std::uint8_t kStatusNeedsReset = 0x40;

class BackendRing;     // one vring's state (src/backend_ring.hpp)
class CallTable;       // the call and error descriptors the device's signals write (src/backend_signals.hpp)
class InflightRegion;  // INFLIGHT_SHMFD's shared record (hv/vhost/inflight.hpp)

class BackendSession {
 public:
  // Where the session reports what went wrong (one line each); stderr when not set.
  using Logger = std::function<void(const std::string&)>;
  // Runs first thing on each ring (kick) thread the session starts, before the thread waits for its
  // first kick: where a daemon narrows what that thread may do (the vhost-user daemons load a
  // tighter seccomp filter, docs/sandbox.md). The library itself knows nothing of what it does. It
  // returns only if the thread may serve the ring; to refuse, it ends the process.
  using ThreadStart = std::function<void()>;

  // `device` may not be null. The session resets the device when it ends (destructor).
  BackendSession(std::shared_ptr<virtio::VirtioDevice> device, Channel channel, Logger log = {},
                 ThreadStart on_ring_thread = {});
  ~BackendSession();
  BackendSession(const BackendSession&) = delete;
  BackendSession& operator=(const BackendSession&) = delete;

  // Serves requests until the frontend closes the connection (success) or breaks the protocol in a way
  // that leaves nothing to answer (the error). Either way the caller then drops the session.
  Result<void> run();
  // One received message: answers it. An error means the connection must be dropped.
  Result<void> handle(Message message);

  // Virtio features this backend offers for `device` (GET_FEATURES).
  static std::uint64_t offered_features(const virtio::VirtioDevice& device) noexcept;

  // For tests and logs.
  [[nodiscard]] bool device_active() const noexcept { return active_; }
  [[nodiscard]] std::uint8_t status() const noexcept;

 private:
  // What a request handler produced: a reply of its own, or only success/failure (REPLY_ACK's answer).
  using Outcome = Result<std::optional<Message>>;
  Outcome dispatch(Message& message);
  Outcome on_set_features(const Message& m);
  Outcome on_set_protocol_features(const Message& m);
  Outcome on_set_vring_num(const Message& m);
  Outcome on_set_vring_addr(const Message& m);
  Outcome on_set_vring_base(const Message& m);
  Outcome on_get_vring_base(const Message& m);
  Outcome on_set_vring_fd(Message& m);
  Outcome on_set_vring_enable(const Message& m);
  Outcome on_get_config(const Message& m);
  Outcome on_set_config(const Message& m);
  Outcome on_memory_change(Message& m);
  Outcome on_reset();
  Outcome on_get_inflight_fd(const Message& m);
  Outcome on_set_inflight_fd(Message& m);
  // Split ring `index` starting with an in-flight region: its record's log goes to the ring, and
  // `state` becomes where the record says the ring continues.
  Result<void> start_inflight(std::uint16_t index, const GuestMemory& memory, std::uint64_t used_gpa,
                              virtio::SplitQueueState& state);
  Result<BackendRing*> ring(std::uint32_t index, const char* operation);
  [[nodiscard]] bool negotiated(std::uint64_t protocol_feature) const noexcept {
    return (protocol_features_ & protocol_feature) != 0;
  }

  // When the set of startable rings differs from the running one (or `force`: the memory, features or
  // a running ring's kick changed), stops the device (saving each ring's position) and activates it
  // again with every startable ring. An error when a ring that should start cannot (addresses outside
  // the table, a bad size); the others start all the same.
  Result<void> restart_device(bool force);
  void stop_device();
  void log(const std::string& line) const;

  std::shared_ptr<virtio::VirtioDevice> device_;
  Channel channel_;
  Logger log_;
  ThreadStart on_ring_thread_;
  BackendMemoryTable memory_;
  std::vector<std::unique_ptr<BackendRing>> rings_;
  std::shared_ptr<CallTable> calls_;
  std::shared_ptr<InflightRegion> inflight_;  // SET_INFLIGHT_FD's region; null: nothing recorded
  std::uint64_t features_ = 0;                // acked virtio features (SET_FEATURES), bit 30 included
  std::uint64_t protocol_features_ = 0;       // acked protocol features
  std::uint8_t status_ = 0;                   // SET_STATUS; NEEDS_RESET is added from calls_
  bool active_ = false;
};

}  // namespace hv::vhost
