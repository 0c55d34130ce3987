#include "hv/dev/device_manager.hpp"

namespace hv::dev {

Result<void> DeviceManager::add_pio(std::shared_ptr<BusDevice> device, std::uint64_t port, std::uint64_t size) {
  if (auto r = pio_.insert(device, port, size); !r) return r;
  devices_.push_back(std::move(device));
  return {};
}

Result<void> DeviceManager::add_mmio(std::shared_ptr<BusDevice> device, std::uint64_t address, std::uint64_t size) {
  constexpr const char* op = "DeviceManager::add_mmio";
  if (ram_ != nullptr) {
    auto range = AddressRange::make(address, size, op);
    if (!range) return tl::unexpected(range.error());
    for (const auto& region : ram_->regions()) {
      if (!region->range().overlaps(*range)) continue;
      return fail(ErrorKind::Overlap, op,
                  "MMIO range " + hex(range->start()) + "-" + hex(range->last()) + " overlaps guest RAM " +
                      hex(region->range().start()) + "-" + hex(region->range().last()) +
                      ": the hypervisor serves memory there, so the device would never be reached");
    }
  }
  if (auto r = mmio_.insert(device, address, size); !r) return r;
  devices_.push_back(std::move(device));
  return {};
}

// The vCPU pre-fills a read with 0xff (hv/io_handler.hpp), and Bus::read leaves it so when no device
// claims the address: a device can never see, or leak, another access's bytes.
void DeviceManager::pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept {
  count_unclaimed(pio_.read(port, data));
}
void DeviceManager::pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept {
  count_unclaimed(pio_.write(port, data));
}
void DeviceManager::mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept {
  count_unclaimed(mmio_.read(address, data));
}
void DeviceManager::mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept {
  count_unclaimed(mmio_.write(address, data));
}

}  // namespace hv::dev
