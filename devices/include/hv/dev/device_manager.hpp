#pragma once
// Owns the PIO and MMIO buses and the devices on them, and turns an IO or MMIO exit into bus accesses:
// writes go to the device, reads come back through Vcpu::complete_read. No allocation per exit.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "hv/dev/bus.hpp"
#include "hv/exit.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"

namespace hv::dev {

class DeviceManager {
 public:
  // Without guest RAM to check against: the caller keeps MMIO ranges out of RAM itself.
  DeviceManager() = default;
  // With the VM's guest RAM: add_mmio refuses a range that overlaps any of its regions, RAM or ROM,
  // because the hypervisor serves guest memory without an exit and the device would never be reached
  // there. `ram` must outlive the DeviceManager. A region added to it later is not checked against
  // the devices already registered: lay out RAM first (Machine does).
  explicit DeviceManager(const GuestMemory& ram) noexcept : ram_(&ram) {}

  Result<void> add_pio(std::shared_ptr<BusDevice> device, std::uint64_t port, std::uint64_t size);
  // Overlap when the range overlaps a registered MMIO device or (see the constructor) guest RAM.
  Result<void> add_mmio(std::shared_ptr<BusDevice> device, std::uint64_t address, std::uint64_t size);

  // Handles an IoExit or MmioExit (each element of a string IO exit in order); returns false for
  // any other exit, which the run loop handles itself.
  Result<bool> dispatch(Vcpu& vcpu, const Exit& exit);

  const Bus& pio() const noexcept { return pio_; }
  const Bus& mmio() const noexcept { return mmio_; }
  std::uint64_t unclaimed_accesses() const noexcept { return unclaimed_.load(std::memory_order_relaxed); }

 private:
  Result<void> handle_io(Vcpu& vcpu, const IoExit& io);
  Result<void> handle_mmio(Vcpu& vcpu, const MmioExit& mmio);

  const GuestMemory* ram_ = nullptr;
  Bus pio_ = Bus::pio();
  Bus mmio_ = Bus::mmio();
  std::vector<std::shared_ptr<BusDevice>> devices_;
  std::atomic<std::uint64_t> unclaimed_{0};
};

}  // namespace hv::dev
