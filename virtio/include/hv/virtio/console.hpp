#pragma once
// virtio-console (virtio 1.2 §5.3, device ID 3), one port, no optional features: the guest's output
// (transmitq, queue 1) goes to a ByteSink, host input (receiveq, queue 0) waits in a bounded buffer
// until the driver offers receive buffers. Output per request is capped, input beyond the buffer is
// refused (enqueue_input says how much it took), so neither side can make the other hold unbounded
// memory. The device shares its sink, and while active its guest memory.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "hv/dev/byte_sink.hpp"
#include "hv/virtio/device.hpp"

namespace hv::virtio {

class ConsoleDevice final : public VirtioDevice {
 public:
  static constexpr std::size_t kInputCapacity = 4096;
  static constexpr std::uint32_t kMaxOutputPerRequest = 64 * 1024;

  // `output` may not be null (a contract violation terminates).
  explicit ConsoleDevice(std::shared_ptr<dev::ByteSink> output);

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 3; }
  [[nodiscard]] std::uint64_t features() const noexcept override { return 0; }
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return 2; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return 256; }
  // Without F_SIZE, F_MULTIPORT and F_EMERG_WRITE the configuration fields are not valid: zeros.
  void read_config(std::uint64_t, std::span<std::uint8_t> data) override;
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  void reset() override;
  // Waits for a notify() or enqueue_input() in progress (each serves under the device's lock, so every
  // request taken is then used) and returns both queues with their positions. Unlike reset(), host
  // input not yet delivered stays buffered for the queues' next activation.
  Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() override;

  // Host -> guest: buffers as many bytes as there is room for, delivers what the driver has buffers
  // for, and returns how many bytes were taken.
  std::size_t enqueue_input(std::span<const std::uint8_t> bytes);

 private:
  void transmit_locked(bool& used);
  void receive_locked(bool& used);

  std::shared_ptr<dev::ByteSink> output_;
  std::mutex mutex_;
  std::shared_ptr<const GuestMemory> memory_;  // from activate() until reset()
  std::optional<Queue> receive_, transmit_;
  DeviceSignals signals_;
  bool broken_ = false;
  std::deque<std::uint8_t> input_;
};

}  // namespace hv::virtio
