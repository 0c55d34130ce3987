#pragma once
// The virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register window a driver finds at the
// device's MMIO base, as a BusDevice. It negotiates features, runs the device status state machine
// (an illegal transition is ignored: the driver reads the old status back), takes the queue setup
// (validated when the driver marks a queue ready: a queue that is not valid reads back as not
// ready), raises the interrupt line for used buffers and configuration changes, and resets the
// device on a write of 0 to Status. Registers are 32-bit accesses only; other widths read as zero
// and are ignored when written. Notifications: an MMIO write to QueueNotify calls the device; a VMM
// with ioeventfds registers one per queue at notify_offset() with datamatch = queue index and calls
// notify() itself.
//
// Ownership: the transport shares the guest memory, the device and the interrupt line (none may be
// null), and hands the memory to the device at activation. Its creator may drop all three as soon as
// the transport exists.

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <vector>

#include "hv/dev/bus_device.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/device.hpp"

namespace hv::virtio {

inline constexpr std::uint64_t kMmioWindowSize = 0x1000;

// Device status bits (§2.1).
inline constexpr std::uint32_t kStatusAcknowledge = 1, kStatusDriver = 2, kStatusDriverOk = 4, kStatusFeaturesOk = 8,
                               kStatusDeviceNeedsReset = 64, kStatusFailed = 128;

class MmioTransport final : public dev::BusDevice {
 public:
  MmioTransport(std::shared_ptr<const GuestMemory> memory, std::shared_ptr<VirtioDevice> device,
                std::shared_ptr<dev::InterruptLine> interrupt);
  // Resets the device: it holds guest memory and this transport's callbacks only while attached.
  ~MmioTransport() override;
  MmioTransport(const MmioTransport&) = delete;
  MmioTransport& operator=(const MmioTransport&) = delete;

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // For a VMM's ioeventfd: QueueNotify's offset in the window; and the notification to deliver.
  [[nodiscard]] static constexpr std::uint64_t notify_offset() noexcept { return 0x50; }
  void notify(std::uint16_t queue);
  // The device changed its configuration space: bump ConfigGeneration and interrupt (§4.2.2).
  void config_changed();
  [[nodiscard]] std::uint32_t status() const;

 private:
  struct QueueSetup {
    std::uint16_t size = 0;
    bool ready = false;
    std::uint64_t descriptor = 0, driver = 0, device = 0;
  };
  std::uint32_t read_register(std::uint64_t offset);
  void write_register(std::uint64_t offset, std::uint32_t value);
  void write_status(std::uint32_t value);
  void reset_locked();
  std::optional<Queue> build_queue(const QueueSetup& q) const;
  void raise(std::uint32_t bits);
  void device_needs_reset();
  [[nodiscard]] std::uint64_t offered_features() const noexcept;

  std::shared_ptr<const GuestMemory> memory_;
  std::shared_ptr<VirtioDevice> device_;
  std::shared_ptr<dev::InterruptLine> interrupt_;
  // Status changes (with the device's reset and activation) exclude notifications to the device, so
  // a reset cannot interleave with a notification or an activation (§2.4: the reset is complete when
  // Status reads 0). Order: control_mutex_, then the device's own lock, then mutex_.
  std::shared_mutex control_mutex_;
  mutable std::mutex mutex_;  // the register state below
  std::uint32_t status_ = 0;
  std::uint32_t device_features_select_ = 0, driver_features_select_ = 0;
  std::uint64_t driver_features_ = 0;
  std::uint32_t queue_select_ = 0;
  std::uint32_t interrupt_status_ = 0;
  std::uint32_t config_generation_ = 0;
  std::vector<QueueSetup> queues_;
};

}  // namespace hv::virtio
