#pragma once
// A virtio device that lives in another process: the VirtioDevice a transport (MmioTransport)
// activates, proxied to a vhost-user backend over a Frontend. The transport keeps the driver-facing
// half (registers, feature negotiation, queue setup); this proxy hands the negotiated features, the
// guest memory (by memfd) and each queue to the backend, turns notify() into a write to the queue's
// kick eventfd, and turns the backend's writes to the call eventfds into used-buffer signals (a thread
// of its own waits on them).
//
// The backend is untrusted (see hv/vhost/frontend.hpp). The guest sees only feature bits the backend
// offered, and of the ring features only those hvkit's transport and queues support; configuration
// space is read once with GET_CONFIG (its size checked) and served from that copy, also after a
// reconnect (QEMU 7.2 does not read it again either): what the guest sees of the device never changes.
//
// If the backend goes away (its socket hangs up, a request fails or times out), the device calls the
// creator's on_disconnect once for that connection, and then, by VhostUserDeviceOptions::reconnect_interval:
// - 0: the device signals needs_reset (DEVICE_NEEDS_RESET for the driver) and every later request
//   fails at once; the VM keeps running.
// - otherwise (QEMU's `reconnect`): a thread of the device connects to the same socket path every
//   interval, for as long as it takes, negotiates again and, while the device is active, redoes the
//   start sequence (SET_FEATURES with the same features, [SET_INFLIGHT_FD], SET_MEM_TABLE, per ring
//   SET_VRING_NUM, SET_VRING_BASE = the used index the guest's split ring shows, SET_VRING_ADDR, KICK,
//   CALL, [ENABLE], [SET_STATUS]) on the new connection without holding the device's lock, then
//   installs it, signals every kick eventfd once (requests made available meanwhile) and calls
//   on_reconnect. The guest sees nothing but the delay. A backend that answers but misbehaves fails
//   that attempt only; the next one comes an interval later. A packed ring cannot be resumed (its used
//   position is not in guest memory): a device with one falls back to needs_reset.
// With INFLIGHT_SHMFD the first start asks the backend for its in-flight region (GET_INFLIGHT_FD) and
// every start hands it back (SET_INFLIGHT_FD, before SET_MEM_TABLE), so a restarted backend finds the
// dead one's record; a driver reset drops it (as QEMU does).
//
// The backend writes the used rings itself; the VMM takes nothing from them but the used index (a
// reconnect's SET_VRING_BASE). After each call the call thread checks the split rings the backend
// wrote (used_ring_watch.hpp) and a ring no driver can use makes the device need a reset.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hv/event_fd.hpp"
#include "hv/vhost/frontend.hpp"
#include "hv/virtio/device.hpp"

namespace hv::vhost {

class UsedRingWatch;  // used_ring_watch.hpp (private to the library)

struct VhostUserDeviceOptions {
  std::uint32_t device_id = 0;  // virtio device ID: 2 block, 4 entropy
  // Queues when the backend has no MQ (GET_QUEUE_NUM); with MQ its answer, at most max_queues.
  std::uint16_t default_queues = 1;
  std::uint16_t max_queues = 1;
  std::uint16_t queue_max_size = 256;  // QueueNumMax (vhost-user has no request for it; QEMU: a property)
  // Bytes of configuration space read with GET_CONFIG at creation (0: none; needs CONFIG otherwise).
  std::uint32_t config_size = 0;
  // Called once per connection, from whichever thread noticed, when the backend goes away; `reconnecting`
  // says whether the device will connect again (otherwise it needs a reset).
  std::function<void(const Error&, bool reconnecting)> on_disconnect;
  // 0: a lost backend leaves the device needing a reset. Otherwise: how long to wait before each
  // attempt to connect again (QEMU's chardev `reconnect`, in seconds there).
  std::chrono::milliseconds reconnect_interval{0};
  // Called after each successful reconnect, from the reconnect thread.
  std::function<void()> on_reconnect;
  // Called, from the activating thread, when the backend refused part of the start sequence with the
  // connection still up (a REPLY_ACK status that is not 0): the transport then sets DEVICE_NEEDS_RESET
  // without a word, so this is the VMM's one chance to say why. A lost connection is on_disconnect's.
  std::function<void(const Error&)> on_activation_failed;
  // Called, from the call thread, when a backend's call finds a split ring in a state no driver can use
  // (used_ring_watch.hpp: a used index ahead of the available one, a used element naming a
  // descriptor past the ring): the device then signals needs_reset, once per activation.
  std::function<void(const Error&)> on_ring_broken;
  // For the connections a reconnect makes.
  FrontendOptions frontend;
};

// The options for a block device (ID 2, one queue by default, the virtio-blk configuration space up to
// its write-zeroes fields: 60 bytes), an entropy device (ID 4, one queue, no configuration space) and
// an I2C adapter (ID 34, one request queue, no configuration space).
VhostUserDeviceOptions vhost_user_blk_options();
VhostUserDeviceOptions vhost_user_rng_options();
VhostUserDeviceOptions vhost_user_i2c_options();

// Feature bits the guest may see of a backend's offer: the device-specific bits 0..23 and the ring
// features hvkit's queues implement (INDIRECT_DESC, EVENT_IDX, VERSION_1, RING_PACKED).
inline constexpr std::uint64_t kProxiedFeatures = 0xffffffULL | virtio::kFeatureIndirectDesc |
                                                  virtio::kFeatureEventIdx | virtio::kFeatureVersion1 |
                                                  virtio::kFeatureRingPacked;

class VhostUserDevice final : public virtio::VirtioDevice {
 public:
  // Over a negotiated frontend. InvalidArgument for options that cannot work; Unsupported when the
  // backend does not offer VERSION_1 (legacy devices are not proxied) or lacks CONFIG while the
  // options ask for configuration space; GET_CONFIG's errors as they come.
  static Result<std::shared_ptr<VhostUserDevice>> create(Frontend frontend, VhostUserDeviceOptions options,
                                                         std::string socket_path = {});
  // Connects to `socket_path`, negotiates and creates (options.frontend is set to frontend_options).
  static Result<std::shared_ptr<VhostUserDevice>> connect(const std::string& socket_path,
                                                          VhostUserDeviceOptions options,
                                                          FrontendOptions frontend_options = {});
  ~VhostUserDevice() override;
  VhostUserDevice(const VhostUserDevice&) = delete;
  VhostUserDevice& operator=(const VhostUserDevice&) = delete;

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return options_.device_id; }
  [[nodiscard]] std::uint64_t features() const noexcept override;
  [[nodiscard]] std::uint64_t ring_features() const noexcept override;
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return queue_count_; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return options_.queue_max_size; }
  void read_config(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write_config(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  // SET_FEATURES, [GET_INFLIGHT_FD the first time, SET_INFLIGHT_FD] (with INFLIGHT_SHMFD),
  // SET_MEM_TABLE, then per queue SET_VRING_NUM/BASE/ADDR/KICK/CALL, SET_VRING_ENABLE
  // (with protocol features) and SET_STATUS (with STATUS); then the call thread starts. On an error
  // the rings already started are stopped again.
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, virtio::Queue>> queues,
                        virtio::DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  // GET_VRING_BASE for every active ring, then SET_STATUS 0 (STATUS) and RESET_DEVICE (RESET_DEVICE);
  // the in-flight region is dropped. Without a backend (during a reconnect) it only forgets the rings:
  // it never waits for the backend. RESET_OWNER is not sent: vhost-user.rst deprecates it, and backends differ in what
  // it discards.
  void reset() override;
  // GET_VRING_BASE for every active ring: the queues at the positions the backend reports (split: the
  // available position it answers, the used index it published in the ring). Requests the backend
  // took but has not completed are not waited for: the specification leaves them to the backend (its
  // in-flight record, with INFLIGHT_SHMFD, is the backend's to read; the frontend never reads it).
  Result<std::vector<std::pair<std::uint16_t, virtio::Queue>>> stop() override;

  // The backend is not coming back (a supervisor gave up restarting it): no more reconnect attempts,
  // an active device signals needs_reset (DEVICE_NEEDS_RESET for the driver) and, like a lost backend
  // without reconnect, every later activation fails and signals it again. Any thread; idempotent.
  void give_up();

  // Whether the backend connection still works (false during a reconnect).
  [[nodiscard]] bool connected() const;
  // How many times a reconnect succeeded.
  [[nodiscard]] std::uint64_t reconnects() const;
  [[nodiscard]] const std::string& socket_path() const noexcept { return socket_path_; }

 private:
  struct Vring {
    std::uint16_t index = 0;
    virtio::Queue queue;
    EventFd kick;
    EventFd call;
  };
  VhostUserDevice(Frontend frontend, VhostUserDeviceOptions options, std::string socket_path);
  // SET_FEATURES, [GET_INFLIGHT_FD when `inflight` is empty, SET_INFLIGHT_FD] (INFLIGHT_SHMFD),
  // SET_MEM_TABLE, every ring's NUM/BASE/ADDR/KICK/CALL (`bases`: each ring's SET_VRING_BASE), then
  // ENABLE (protocol features) and SET_STATUS (STATUS). Touches no member but the constant ones: a
  // reconnect runs it on a new connection without the lock.
  Result<void> start_sequence(Frontend& frontend, const GuestMemory& memory, std::uint64_t features,
                              std::span<const Vring> vrings, std::span<const std::uint32_t> bases,
                              std::optional<InflightRegion>& inflight) const;
  static Result<void> start_vring(Frontend& frontend, const GuestMemory& memory, const Vring& vring,
                                  std::uint32_t base);
  Result<void> start_call_thread();
  void reconnect_loop();
  // One attempt: connect, negotiate, restart the active rings, install. False: try again later.
  bool try_reconnect();
  // Everything activate() may accept: features(), ring_features() and VERSION_1.
  [[nodiscard]] std::uint64_t offered_features() const noexcept;
  // Stops the rings (GET_VRING_BASE) and the call thread; the queues at their reported positions.
  std::vector<std::pair<std::uint16_t, virtio::Queue>> stop_locked(std::optional<Error>& error);
  void stop_call_thread();
  void watch_calls(std::vector<std::pair<std::uint16_t, EventFd>> calls, int stop_fd, UniqueFd socket,
                   const virtio::DeviceSignals& signals, const std::shared_ptr<const GuestMemory>& memory,
                   std::vector<std::optional<UsedRingWatch>> watches);
  // The backend went away: report it once per connection; reconnect, or signal needs_reset.
  void lost(const Error& error, const virtio::DeviceSignals* signals);
  // After a failed request: whether it broke the connection (then report it).
  void check_lost(const virtio::DeviceSignals* signals);

  const VhostUserDeviceOptions options_;
  const std::string socket_path_;       // for a reconnect
  std::uint64_t backend_features_ = 0;  // the first backend's offer: what the guest is offered, for good
  std::uint16_t queue_count_ = 1;
  mutable std::mutex mutex_;  // the frontend and the state below; order: after the transport's locks
  Frontend frontend_;
  std::vector<std::uint8_t> config_;
  std::shared_ptr<const GuestMemory> memory_;
  virtio::DeviceSignals signals_;
  std::vector<Vring> vrings_;
  std::uint64_t features_ = 0;              // activate()'s, for a restart
  std::optional<InflightRegion> inflight_;  // the backend's in-flight region (INFLIGHT_SHMFD)
  std::uint64_t generation_ = 0;            // bumped by every activate, stop and reset
  std::uint64_t reconnects_ = 0;
  std::optional<EventFd> stop_event_;
  std::thread call_thread_;
  std::atomic<bool> lost_{false};
  std::atomic<bool> resumable_{true};  // no packed ring active: a reconnect can resume the rings
  // The reconnect thread (only with a reconnect_interval); order: reconnect_mutex_ after mutex_.
  std::mutex reconnect_mutex_;
  std::condition_variable reconnect_wake_;
  bool reconnect_wanted_ = false;
  bool shutting_down_ = false;
  std::atomic<bool> given_up_{false};  // give_up(): lost() no longer reconnects
  std::thread reconnect_thread_;
};

}  // namespace hv::vhost
