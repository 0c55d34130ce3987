#pragma once
// What a device on a PIO or MMIO bus implements. Offsets are relative to the device's base; `data`
// is the access (1, 2, 4 or 8 bytes, little-endian). Devices never see which hypervisor runs them.
// Calls may come from several vCPU threads at once: a device serialises its own state.

#include <cstdint>
#include <span>

namespace hv::dev {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
  virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

}  // namespace hv::dev
