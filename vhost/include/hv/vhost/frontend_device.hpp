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
// space is read once with GET_CONFIG (its size checked) and served from that copy. If the backend goes
// away (its socket hangs up, a request fails or times out) the device signals needs_reset
// (DEVICE_NEEDS_RESET for the driver), calls the creator's on_disconnect once, and every later request
// fails at once: the VM keeps running. The socket path and the negotiated state stay with the device,
// for a reconnect to start from.

#include <atomic>
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

struct VhostUserDeviceOptions {
  std::uint32_t device_id = 0;  // virtio device ID: 2 block, 4 entropy
  // Queues when the backend has no MQ (GET_QUEUE_NUM); with MQ its answer, at most max_queues.
  std::uint16_t default_queues = 1;
  std::uint16_t max_queues = 1;
  std::uint16_t queue_max_size = 256;  // QueueNumMax (vhost-user has no request for it; QEMU: a property)
  // Bytes of configuration space read with GET_CONFIG at creation (0: none; needs CONFIG otherwise).
  std::uint32_t config_size = 0;
  // Called once, from whichever thread noticed, when the backend goes away.
  std::function<void(const Error&)> on_disconnect;
};

// The options for a block device (ID 2, one queue by default, the virtio-blk configuration space up to
// its write-zeroes fields: 60 bytes) and an entropy device (ID 4, one queue, no configuration space).
VhostUserDeviceOptions vhost_user_blk_options();
VhostUserDeviceOptions vhost_user_rng_options();

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
  // Connects to `socket_path`, negotiates and creates.
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
  // SET_FEATURES, SET_MEM_TABLE, then per queue SET_VRING_NUM/BASE/ADDR/KICK/CALL, SET_VRING_ENABLE
  // (with protocol features) and SET_STATUS (with STATUS); then the call thread starts. On an error
  // the rings already started are stopped again.
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, virtio::Queue>> queues,
                        virtio::DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  // GET_VRING_BASE for every active ring, then SET_STATUS 0 (STATUS) and RESET_DEVICE (RESET_DEVICE).
  // RESET_OWNER is not sent: vhost-user.rst deprecates it, and backends differ in what it discards.
  void reset() override;
  // GET_VRING_BASE for every active ring: the queues at the positions the backend reports (split: the
  // available position it answers, the used index it published in the ring). Requests the backend
  // took but has not completed are not waited for: the specification leaves them to the backend, and
  // only INFLIGHT_SHMFD (not negotiated yet) would let the frontend see them.
  Result<std::vector<std::pair<std::uint16_t, virtio::Queue>>> stop() override;

  // Whether the backend connection still works.
  [[nodiscard]] bool connected() const;
  [[nodiscard]] const std::string& socket_path() const noexcept { return socket_path_; }

 private:
  struct Vring {
    std::uint16_t index = 0;
    virtio::Queue queue;
    EventFd kick;
    EventFd call;
  };
  VhostUserDevice(Frontend frontend, VhostUserDeviceOptions options, std::string socket_path);
  Result<void> start_vring(const GuestMemory& memory, Vring& vring);
  // Everything activate() may accept: features(), ring_features() and VERSION_1.
  [[nodiscard]] std::uint64_t offered_features() const noexcept;
  // Stops the rings (GET_VRING_BASE) and the call thread; the queues at their reported positions.
  std::vector<std::pair<std::uint16_t, virtio::Queue>> stop_locked(std::optional<Error>& error);
  void stop_call_thread();
  void watch_calls(std::vector<std::pair<std::uint16_t, EventFd>> calls, int stop_fd, UniqueFd socket,
                   const virtio::DeviceSignals& signals);
  // The backend went away: report it once.
  void lost(const Error& error, const virtio::DeviceSignals* signals);
  // After a failed request: whether it broke the connection (then report it).
  void check_lost(const virtio::DeviceSignals* signals);

  const VhostUserDeviceOptions options_;
  const std::string socket_path_;  // for a reconnect
  std::uint16_t queue_count_ = 1;
  mutable std::mutex mutex_;  // the frontend and the state below; order: after the transport's locks
  Frontend frontend_;
  std::vector<std::uint8_t> config_;
  std::shared_ptr<const GuestMemory> memory_;
  virtio::DeviceSignals signals_;
  std::vector<Vring> vrings_;
  std::optional<EventFd> stop_event_;
  std::thread call_thread_;
  std::atomic<bool> lost_{false};
};

}  // namespace hv::vhost
