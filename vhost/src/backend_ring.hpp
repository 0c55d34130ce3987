#pragma once
// One vring as the backend session knows it: what the frontend set (size, addresses, base, kick
// descriptor, enable) and, while the device runs it, the thread that waits on its kick descriptor.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <variant>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "hv/virtio/packed_queue.hpp"
#include "hv/virtio/split_queue.hpp"
#include "hv/vhost/inflight.hpp"
#include "hv/vhost/protocol.hpp"

namespace hv::vhost {

// A thread that waits (poll) on a ring's kick eventfd and a stop eventfd of its own, and calls
// `on_kick` for each kick. It owns a duplicate of the kick descriptor, so the frontend replacing the
// ring's kick cannot close it underneath. A kick descriptor that reports an error or hang-up ends the
// thread (the ring then sleeps until its next SET_VRING_KICK); it never spins. `on_start`, when set,
// runs first thing on the new thread, before it waits (BackendSession::ThreadStart).
class KickWorker {
 public:
  KickWorker() = default;
  ~KickWorker() { stop(); }
  KickWorker(const KickWorker&) = delete;
  KickWorker& operator=(const KickWorker&) = delete;

  Result<void> start(int kick_fd, std::function<void()> on_kick, std::function<void()> on_start = {});
  // Returns once the thread has ended (an on_kick in progress completes first).
  void stop() noexcept;
  [[nodiscard]] bool running() const noexcept { return thread_.joinable(); }

 private:
  UniqueFd kick_;
  UniqueFd stop_;
  std::thread thread_;
};

using RingPosition = std::variant<virtio::SplitQueueState, virtio::PackedQueueState>;

class BackendRing {
 public:
  std::uint16_t size = 0;                   // SET_VRING_NUM; 0: not set
  std::optional<VringAddr> addresses;       // SET_VRING_ADDR, frontend user addresses
  std::uint32_t base = 0;                   // SET_VRING_BASE
  std::optional<RingPosition> resume;       // where the device left the ring (VirtioDevice::stop)
  std::shared_ptr<QueueInflight> inflight;  // its in-flight record, once it started with a region
  UniqueFd kick;                            // SET_VRING_KICK; invalid: no kick, or stopped by GET_VRING_BASE
  bool enabled = false;                     // SET_VRING_ENABLE
  KickWorker worker;

  // Whether the device should run this ring. With bit 30 (PROTOCOL_FEATURES) negotiated a ring starts
  // disabled and waits for SET_VRING_ENABLE; without it, it is enabled from the start.
  [[nodiscard]] bool startable(bool protocol_features) const noexcept {
    return size != 0 && addresses.has_value() && kick.valid() && (enabled || !protocol_features);
  }
  // What GET_VRING_BASE reports: split, the next available index; packed, the next available slot with
  // its wrap counter in bit 15. The base the frontend set when the device has not run the ring since.
  [[nodiscard]] std::uint32_t position() const noexcept;
  void reset() noexcept;
};

}  // namespace hv::vhost
