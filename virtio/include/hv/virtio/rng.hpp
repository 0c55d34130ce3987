#pragma once
// virtio-rng (virtio 1.2 §5.4, device ID 4): one request queue; the device fills each device-writable
// buffer the driver offers with bytes from getrandom(2). At most kMaxBytesPerRequest are written per
// request, so a guest offering gigabytes cannot hold a vCPU thread; the used length says how many.
// A driver that breaks the queue protocol leaves the device stopped until it is reset.

#include <cstdint>
#include <mutex>
#include <optional>

#include "hv/virtio/device.hpp"

namespace hv::virtio {

class RngDevice final : public VirtioDevice {
 public:
  static constexpr std::uint32_t kMaxBytesPerRequest = 64 * 1024;

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 4; }
  [[nodiscard]] std::uint64_t features() const noexcept override { return 0; }
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return 1; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return 256; }
  void read_config(std::uint64_t, std::span<std::uint8_t>) override {}  // no configuration space
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  void reset() override;
  // Waits for a notify() in progress (it serves under the device's lock, so every request it took is
  // then used) and returns the request queue with its position.
  Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() override;

  // The queue stopped because the driver broke the protocol (for the VMM's logs and tests).
  [[nodiscard]] bool broken() const;

 private:
  std::uint32_t fill(const DescriptorChain& chain);  // mutex_ held
  mutable std::mutex mutex_;
  std::shared_ptr<const GuestMemory> memory_;  // from activate() until reset()
  std::optional<Queue> queue_;
  DeviceSignals signals_;
  bool broken_ = false;
};

}  // namespace hv::virtio
