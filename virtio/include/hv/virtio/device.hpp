#pragma once
// What a virtio device implements, independent of the transport (virtio 1.2 §2, §5). The transport
// (hv/virtio/mmio_transport.hpp) owns feature negotiation, the status state machine and queue setup;
// it activates the device with its queues once the driver sets DRIVER_OK and resets it on a reset.
//
// Ownership: an active device shares the guest memory it was activated with (a
// std::shared_ptr<const GuestMemory>) and passes it to its queues on every call; the queues hold
// none. Whoever built the memory may drop it meanwhile: the device, including a thread of its own,
// never reaches freed memory. reset() (and the transport's destruction) releases it.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/queue.hpp"

namespace hv::virtio {

// Feature bits the transport handles (§6).
inline constexpr std::uint64_t kFeatureIndirectDesc = 1ULL << 28;
inline constexpr std::uint64_t kFeatureEventIdx = 1ULL << 29;
inline constexpr std::uint64_t kFeatureVersion1 = 1ULL << 32;
inline constexpr std::uint64_t kFeatureRingPacked = 1ULL << 34;

// How a device reaches the driver through its transport.
struct DeviceSignals {
  // Buffers of queue `index` were used: the transport sets InterruptStatus bit 0 and raises the line
  // (virtio-mmio has one line for all queues); a vhost-user backend signals that queue's call fd.
  std::function<void(std::uint16_t index)> used_buffers;
  // The driver broke the protocol and the device stopped: DEVICE_NEEDS_RESET and a configuration
  // interrupt (§2.1.2), so the driver resets instead of waiting forever.
  std::function<void()> needs_reset;

  // After the device used buffers of `queue` (number `index`): the interrupt, if the driver asked for one.
  void used(std::uint16_t index, Queue& queue, const GuestMemory& memory) const {
    auto wanted = queue.should_notify(memory);
    if (wanted && *wanted && used_buffers) used_buffers(index);
  }
  void broken() const {
    if (needs_reset) needs_reset();
  }
};

// serve_available() and its report to the driver: an interrupt when it wants one, a reset request
// when it broke the queue protocol. False in the latter case: the device stops until it is reset.
template <class Handler>
bool serve_and_signal(std::uint16_t index, Queue& queue, const GuestMemory& memory, std::uint32_t max,
                      const DeviceSignals& signals, Handler handle) {
  auto used = serve_available(queue, memory, max, handle);
  if (!used) {
    signals.broken();
    return false;
  }
  if (*used) signals.used(index, queue, memory);
  return true;
}

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;
  [[nodiscard]] virtual std::uint32_t device_id() const noexcept = 0;
  // Device-specific feature bits; the transport adds the ring features it supports.
  [[nodiscard]] virtual std::uint64_t features() const noexcept = 0;
  // The ring features (INDIRECT_DESC, EVENT_IDX, RING_PACKED) the device can serve; the transport
  // offers those of them it supports. A device on hvkit's queues serves them all; a vhost-user proxy
  // only what its backend offered (QEMU 7.2's libvhost-user has no packed rings).
  [[nodiscard]] virtual std::uint64_t ring_features() const noexcept {
    return kFeatureIndirectDesc | kFeatureEventIdx | kFeatureRingPacked;
  }
  [[nodiscard]] virtual std::uint16_t queue_count() const noexcept = 0;
  [[nodiscard]] virtual std::uint16_t queue_max_size() const noexcept = 0;
  // Device configuration space (§2.5); out-of-range parts read as zero and writes there are ignored.
  virtual void read_config(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
  virtual void write_config(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  // The driver set DRIVER_OK: `queues` holds one entry per queue the driver enabled (index, queue).
  // The device keeps `memory` (InvalidArgument if null) until reset(). An error makes the transport
  // set DEVICE_NEEDS_RESET.
  virtual Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                                std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) = 0;
  // Queue `index` has new buffers (an MMIO write to QueueNotify, or its ioeventfd fired).
  virtual void notify(std::uint16_t index) = 0;
  // Drop every queue and in-flight request; after this the device holds no guest addresses, no guest
  // memory and none of the transport's signals.
  virtual void reset() = 0;
  // Like reset(), but first completes every request the device has taken from its queues, and returns
  // each active queue (index, queue) as it then stands: its position (Queue::state()) is where a
  // vhost-user backend's GET_VRING_BASE reply and a snapshot start from, and the same queues can be
  // activated again, over a new memory layout (SET_MEM_TABLE). Unsupported for a device that cannot
  // (the default); an inactive device returns no queues.
  virtual Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() {
    return tl::unexpected(Error(ErrorKind::Unsupported, "VirtioDevice::stop", "this device cannot stop and resume"));
  }
};

}  // namespace hv::virtio
