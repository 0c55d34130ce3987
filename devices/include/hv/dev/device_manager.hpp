#pragma once
// Owns the PIO and MMIO buses and the devices on them, and turns an IO or MMIO exit into bus accesses:
// writes go to the device, reads come back through Vcpu::complete_read. No allocation per exit.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "hv/dev/bus.hpp"
#include "hv/exit.hpp"
#include "hv/hypervisor.hpp"

namespace hv::dev {

class DeviceManager {
 public:
  Result<void> add_pio(std::shared_ptr<BusDevice> device, std::uint64_t port, std::uint64_t size);
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

  Bus pio_ = Bus::pio();
  Bus mmio_ = Bus::mmio();
  std::vector<std::shared_ptr<BusDevice>> devices_;
  std::atomic<std::uint64_t> unclaimed_{0};
};

}  // namespace hv::dev
