#pragma once
// An address space (port I/O or MMIO) with devices registered on non-overlapping ranges. Dispatch is a
// binary search under a shared lock: no allocation, no lock that another vCPU holds for long.

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <vector>

#include "hv/address_range.hpp"
#include "hv/dev/bus_device.hpp"
#include "hv/error.hpp"

namespace hv::dev {

class Bus {
 public:
  // `limit` is the last valid address: 0xffff for port I/O, 2^64-1 for MMIO.
  explicit Bus(std::uint64_t limit) noexcept : limit_(limit) {}
  static Bus pio() noexcept { return Bus(0xffff); }
  static Bus mmio() noexcept { return Bus(~std::uint64_t{0}); }

  // Overlap with a registered range, a range past `limit` or wrapping past 2^64 is refused.
  Result<void> insert(std::shared_ptr<BusDevice> device, std::uint64_t base, std::uint64_t size);
  // NotFound unless a device is registered exactly at `base`.
  Result<void> remove(std::uint64_t base);

  // True when one device's range contains the whole access; otherwise the access is unclaimed: a
  // read returns all-ones and a write is dropped.
  bool read(std::uint64_t address, std::span<std::uint8_t> data) const;
  bool write(std::uint64_t address, std::span<const std::uint8_t> data) const;

 private:
  struct Entry {
    AddressRange range;
    std::shared_ptr<BusDevice> device;
  };
  // The entry whose range contains the whole access, or nullptr. Caller holds mutex_.
  const Entry* find(std::uint64_t address, std::size_t size) const;
  // The device (kept alive for the call, without holding the lock) and the offset into it.
  struct Claim {
    std::shared_ptr<BusDevice> device;
    std::uint64_t offset = 0;
  };
  Claim claim(std::uint64_t address, std::size_t size) const;

  std::uint64_t limit_;
  mutable std::shared_mutex mutex_;
  std::vector<Entry> entries_;  // sorted by range start
};

}  // namespace hv::dev
