#pragma once
// Owns the PIO and MMIO buses and the devices on them, and is the IoHandler a vCPU's run() calls:
// each port I/O or MMIO access goes to the device that claims it; an access no device claims reads
// all-ones and writes nothing, and is counted. No allocation per access.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "hv/dev/bus.hpp"
#include "hv/guest_memory.hpp"
#include "hv/io_handler.hpp"

namespace hv::dev {

class DeviceManager final : public IoHandler {
 public:
  // Without guest RAM to check against: the caller keeps MMIO ranges out of RAM itself.
  DeviceManager() = default;
  // With the VM's guest RAM (Vm::memory(), shared): add_mmio refuses a range that overlaps any of its
  // regions, RAM or ROM, because the hypervisor serves guest memory without an exit and the device
  // would never be reached there. A region mapped later is not checked against the devices already
  // registered: lay out RAM first (Machine does).
  explicit DeviceManager(std::shared_ptr<const GuestMemory> ram) noexcept : ram_(std::move(ram)) {}
  DeviceManager(const DeviceManager&) = delete;
  DeviceManager& operator=(const DeviceManager&) = delete;
  DeviceManager(DeviceManager&&) = delete;
  DeviceManager& operator=(DeviceManager&&) = delete;
  ~DeviceManager() override = default;

  Result<void> add_pio(std::shared_ptr<BusDevice> device, std::uint64_t port, std::uint64_t size);
  // Overlap when the range overlaps a registered MMIO device or (see the constructor) guest RAM.
  Result<void> add_mmio(std::shared_ptr<BusDevice> device, std::uint64_t address, std::uint64_t size);

  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override;
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override;
  void mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept override;
  void mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept override;

  const Bus& pio() const noexcept { return pio_; }
  const Bus& mmio() const noexcept { return mmio_; }
  std::uint64_t unclaimed_accesses() const noexcept { return unclaimed_.load(std::memory_order_relaxed); }

 private:
  void count_unclaimed(bool claimed) noexcept {
    if (!claimed) unclaimed_.fetch_add(1, std::memory_order_relaxed);
  }

  std::shared_ptr<const GuestMemory> ram_;
  Bus pio_ = Bus::pio();
  Bus mmio_ = Bus::mmio();
  std::vector<std::shared_ptr<BusDevice>> devices_;
  std::atomic<std::uint64_t> unclaimed_{0};
};

}  // namespace hv::dev
