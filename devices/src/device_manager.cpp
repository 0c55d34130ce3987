#include "hv/dev/device_manager.hpp"

#include <algorithm>
#include <array>

namespace hv::dev {

namespace {
// The most a single exit carries: string IO arrives at most a page at a time (see hv::IoExit).
constexpr std::size_t kMaxExitBytes = 4096;
}  // namespace

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

Result<bool> DeviceManager::dispatch(Vcpu& vcpu, const Exit& exit) {
  if (const auto* io = std::get_if<IoExit>(&exit)) {
    if (auto r = handle_io(vcpu, *io); !r) return tl::unexpected(r.error());
    return true;
  }
  if (const auto* mmio = std::get_if<MmioExit>(&exit)) {
    if (auto r = handle_mmio(vcpu, *mmio); !r) return tl::unexpected(r.error());
    return true;
  }
  return false;
}

Result<void> DeviceManager::handle_io(Vcpu& vcpu, const IoExit& io) {
  const std::size_t size = io.size;
  if (size == 0 || io.data.size() != size * io.count || io.data.size() > kMaxExitBytes) {
    return fail(ErrorKind::InvalidArgument, "DeviceManager::dispatch", "IO exit with inconsistent size and count");
  }
  if (io.direction == AccessDirection::Write) {
    for (std::size_t i = 0; i < io.count; ++i) {
      if (!pio_.write(io.port, io.data.subspan(i * size, size))) unclaimed_.fetch_add(1, std::memory_order_relaxed);
    }
    return {};
  }
  // Pre-filled with open-bus bytes: a device that leaves bytes unwritten must not leak host stack.
  std::array<std::uint8_t, kMaxExitBytes> buffer{};
  std::fill_n(buffer.begin(), io.data.size(), std::uint8_t{0xff});
  for (std::size_t i = 0; i < io.count; ++i) {
    if (!pio_.read(io.port, std::span(buffer).subspan(i * size, size)))
      unclaimed_.fetch_add(1, std::memory_order_relaxed);
  }
  return vcpu.complete_read(std::span(buffer).first(io.data.size()));
}

Result<void> DeviceManager::handle_mmio(Vcpu& vcpu, const MmioExit& mmio) {
  if (mmio.data.size() != mmio.size || mmio.size == 0 || mmio.size > 16) {
    return fail(ErrorKind::InvalidArgument, "DeviceManager::dispatch", "MMIO exit with an inconsistent size");
  }
  if (mmio.direction == AccessDirection::Write) {
    if (!mmio_.write(mmio.address, mmio.data)) unclaimed_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  std::array<std::uint8_t, 16> buffer{};
  buffer.fill(0xff);
  const auto answer = std::span(buffer).first(mmio.size);
  if (!mmio_.read(mmio.address, answer)) unclaimed_.fetch_add(1, std::memory_order_relaxed);
  return vcpu.complete_read(answer);
}

}  // namespace hv::dev
