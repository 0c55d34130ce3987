#include "hv/dev/bus.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

namespace hv::dev {

Result<void> Bus::insert(std::shared_ptr<BusDevice> device, std::uint64_t base, std::uint64_t size) {
  constexpr const char* op = "Bus::insert";
  if (!device) return fail(ErrorKind::InvalidArgument, op, "null device");
  auto range = AddressRange::make(base, size, op);
  if (!range) return tl::unexpected(range.error());
  if (range->last() > limit_) return fail(ErrorKind::OutOfRange, op, "range ends beyond the bus");
  std::unique_lock lock(mutex_);
  auto pos = std::upper_bound(entries_.begin(), entries_.end(), base,
                              [](std::uint64_t b, const Entry& e) { return b < e.range.start(); });
  if ((pos != entries_.begin() && std::prev(pos)->range.overlaps(*range)) ||
      (pos != entries_.end() && pos->range.overlaps(*range))) {
    return fail(ErrorKind::Overlap, op, "range at " + std::to_string(base) + " overlaps a registered device");
  }
  entries_.insert(pos, Entry{*range, std::move(device)});
  return {};
}

Result<void> Bus::remove(std::uint64_t base) {
  std::unique_lock lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.range.start() == base; });
  if (it == entries_.end()) return fail(ErrorKind::NotFound, "Bus::remove", "no device at " + std::to_string(base));
  entries_.erase(it);
  return {};
}

const Bus::Entry* Bus::find(std::uint64_t address, std::size_t size) const {
  if (size == 0) return nullptr;
  auto pos = std::upper_bound(entries_.begin(), entries_.end(), address,
                              [](std::uint64_t a, const Entry& e) { return a < e.range.start(); });
  if (pos == entries_.begin()) return nullptr;
  const Entry& e = *std::prev(pos);
  // The whole access must be inside the device: offset + size <= device size, without overflow.
  const std::uint64_t offset = address - e.range.start();
  if (!e.range.contains(address) || size - 1 > e.range.size() - 1 - offset) return nullptr;
  return &e;
}

Bus::Claim Bus::claim(std::uint64_t address, std::size_t size) const {
  std::shared_lock lock(mutex_);
  const Entry* e = find(address, size);
  if (e == nullptr) return {};
  return {e->device, address - e->range.start()};
}

bool Bus::read(std::uint64_t address, std::span<std::uint8_t> data) const {
  const auto claimed = claim(address, data.size());
  if (!claimed.device) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});  // memset on an empty span's null data() is UB
    return false;
  }
  claimed.device->read(claimed.offset, data);
  return true;
}

bool Bus::write(std::uint64_t address, std::span<const std::uint8_t> data) const {
  const auto claimed = claim(address, data.size());
  if (!claimed.device) return false;
  claimed.device->write(claimed.offset, data);
  return true;
}

}  // namespace hv::dev
