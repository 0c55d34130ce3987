#include "hv/guest_memory.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string>

#include <gsl/assert>

#include "host_mapping.hpp"

namespace hv {

GuestRegion::GuestRegion(AddressRange range, Backing backing, std::uint8_t* host, UniqueFd memfd, bool owned) noexcept
    : range_(range), backing_(backing), host_(host), memfd_(std::move(memfd)), owned_(owned) {}

GuestRegion::~GuestRegion() {
  if (owned_) detail::unmap_host_memory(host_, range_.size());
}

Result<std::shared_ptr<GuestRegion>> GuestRegion::borrow(std::uint64_t guest_base, std::span<std::uint8_t> host) {
  constexpr const char* op = "GuestRegion::borrow";
  auto range = AddressRange::make(guest_base, host.size(), op);
  if (!range) return tl::unexpected(range.error());
  const auto address = std::bit_cast<std::uintptr_t>(host.data());  // for the alignment check only
  if (!range->page_aligned() || address % kPageSize != 0) {
    return fail(ErrorKind::InvalidArgument, op, "guest base, host address and size must be multiples of 4 KiB");
  }
  if (host.size() > kMaxRegionSize) return fail(ErrorKind::OutOfRange, op, "size exceeds the 1 TiB region limit");
  return std::shared_ptr<GuestRegion>(new GuestRegion(*range, Backing::Anonymous, host.data(), UniqueFd{}, false));
}

Result<std::shared_ptr<GuestRegion>> GuestRegion::create(std::uint64_t guest_base, std::uint64_t size,
                                                         Backing backing) {
  constexpr const char* op = "GuestRegion::create";
  auto range = AddressRange::make(guest_base, size, op);
  if (!range) return tl::unexpected(range.error());
  if (!range->page_aligned()) {
    return fail(ErrorKind::InvalidArgument, op,
                "base " + hex(guest_base) + " and size " + hex(size) + " must be multiples of 4 KiB");
  }
  if (size > kMaxRegionSize) {
    return fail(ErrorKind::OutOfRange, op, "size " + hex(size) + " exceeds the 1 TiB region limit");
  }
  auto mapping = detail::map_host_memory(size, backing);
  if (!mapping) return tl::unexpected(mapping.error());
  return std::shared_ptr<GuestRegion>(new GuestRegion(*range, backing, mapping->address, std::move(mapping->memfd)));
}

Result<std::shared_ptr<GuestRegion>> GuestRegion::map_shared(std::uint64_t guest_base, std::uint64_t size, UniqueFd fd,
                                                             std::uint64_t fd_offset) {
  constexpr const char* op = "GuestRegion::map_shared";
  if (!fd) return fail(ErrorKind::InvalidArgument, op, "no file descriptor");
  auto range = AddressRange::make(guest_base, size, op);
  if (!range) return tl::unexpected(range.error());
  if (!range->page_aligned() || fd_offset % kPageSize != 0) {
    return fail(ErrorKind::InvalidArgument, op,
                "base " + hex(guest_base) + ", size " + hex(size) + " and file offset " + hex(fd_offset) +
                    " must be multiples of 4 KiB");
  }
  if (size > kMaxRegionSize) {
    return fail(ErrorKind::OutOfRange, op, "size " + hex(size) + " exceeds the 1 TiB region limit");
  }
  if (fd_offset > std::numeric_limits<std::uint64_t>::max() - size) {
    return fail(ErrorKind::OutOfRange, op, "file offset " + hex(fd_offset) + " + size " + hex(size) + " wraps");
  }
  auto host = detail::map_shared_fd(fd.get(), fd_offset, size);
  if (!host) return tl::unexpected(host.error());
  return std::shared_ptr<GuestRegion>(new GuestRegion(*range, Backing::SharedFd, *host, std::move(fd)));
}

Result<void> GuestRegion::start_write_tracking() {
  std::lock_guard lock(tracking_mutex_);
  if (!written_) {
    const std::uint64_t words = (range_.size() / kPageSize + 63) / 64;
    written_.reset(new (std::nothrow) std::atomic<std::uint64_t>[words]);  // NOLINT(cppcoreguidelines-owning-memory)
    if (!written_) {
      return fail(ErrorKind::ResourceExhausted, "GuestRegion::start_write_tracking",
                  "no memory for the write bitmap of " + hex(range_.size()) + " bytes");
    }
    for (std::uint64_t i = 0; i < words; ++i) written_[i].store(0, std::memory_order_relaxed);
    written_words_.store(written_.get(), std::memory_order_release);
  }
  tracking_.store(true, std::memory_order_release);
  return {};
}

void GuestRegion::stop_write_tracking() noexcept {
  std::lock_guard lock(tracking_mutex_);
  tracking_.store(false, std::memory_order_release);
}

void GuestRegion::mark_written_pages(std::uint64_t offset, std::uint64_t len) const noexcept {
  std::atomic<std::uint64_t>* words = written_words_.load(std::memory_order_acquire);
  if (words == nullptr || offset >= range_.size()) return;
  const std::uint64_t last = std::min(offset + len, range_.size()) - 1;
  for (std::uint64_t page = offset / kPageSize; page <= last / kPageSize; ++page) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic): page < pages, the bitmap's size
    words[page / 64].fetch_or(std::uint64_t{1} << (page % 64), std::memory_order_relaxed);
  }
}

void GuestRegion::take_written(std::span<std::uint64_t> bits) const noexcept {
  std::atomic<std::uint64_t>* words = written_words_.load(std::memory_order_acquire);
  if (words == nullptr) return;
  const std::uint64_t count = std::min<std::uint64_t>(bits.size(), (range_.size() / kPageSize + 63) / 64);
  for (std::uint64_t i = 0; i < count; ++i) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic): i < the bitmap's word count
    bits[i] |= words[i].exchange(0, std::memory_order_relaxed);
  }
}

Result<GuestMemory> GuestMemory::create(std::span<const RegionSpec> specs, Backing backing) {
  GuestMemory memory;
  for (const auto& spec : specs) {
    auto region = GuestRegion::create(spec.guest_base, spec.size, backing);
    if (!region) return tl::unexpected(region.error());
    if (auto added = memory.add_region(std::move(*region), spec.permission); !added)
      return tl::unexpected(added.error());
  }
  return memory;
}

Result<void> GuestMemory::add_region(std::shared_ptr<GuestRegion> region, Permission permission) {
  if (!region) return fail(ErrorKind::InvalidArgument, "GuestMemory::add_region", "null region");
  auto pos = std::upper_bound(regions_.begin(), regions_.end(), region->guest_base(),
                              [](std::uint64_t base, const auto& r) { return base < r->guest_base(); });
  const bool hits_previous = pos != regions_.begin() && (*std::prev(pos))->range().overlaps(region->range());
  const bool hits_next = pos != regions_.end() && (*pos)->range().overlaps(region->range());
  if (hits_previous || hits_next) {
    const auto& other = hits_previous ? *std::prev(pos) : *pos;
    return fail(ErrorKind::Overlap, "GuestMemory::add_region",
                "region " + hex(region->guest_base()) + "+" + hex(region->size()) + " overlaps " +
                    hex(other->guest_base()) + "+" + hex(other->size()));
  }
  permissions_.insert(permissions_.begin() + (pos - regions_.begin()), permission);
  regions_.insert(pos, std::move(region));
  rebuild_slots();
  return {};
}

Result<std::shared_ptr<GuestRegion>> GuestMemory::remove_region(std::uint64_t guest_base) {
  auto it =
      std::find_if(regions_.begin(), regions_.end(), [&](const auto& r) { return r->guest_base() == guest_base; });
  if (it == regions_.end()) {
    return fail(ErrorKind::NotFound, "GuestMemory::remove_region", "no region starts at " + hex(guest_base));
  }
  auto region = std::move(*it);
  permissions_.erase(permissions_.begin() + (it - regions_.begin()));
  regions_.erase(it);
  rebuild_slots();
  return region;
}

void GuestMemory::rebuild_slots() {
  slots_.clear();
  slots_.reserve(regions_.size());
  for (std::size_t i = 0; i < regions_.size(); ++i) {
    const GuestRegion& region = *regions_[i];
    slots_.push_back({.base = region.guest_base(),
                      .size = region.size(),
                      .host = region.host().data(),
                      .region = &region,
                      .writable = permissions_[i] == Permission::ReadWrite});
  }
}

const GuestMemory::Slot* GuestMemory::slot_for_sorted(std::uint64_t gpa, std::uint64_t len) const noexcept {
  auto pos = std::upper_bound(slots_.begin(), slots_.end(), gpa,
                              [](std::uint64_t a, const Slot& slot) { return a < slot.base; });
  if (pos == slots_.begin()) return nullptr;
  const Slot& slot = *std::prev(pos);
  const std::uint64_t offset = gpa - slot.base;
  return offset < slot.size && slot.size - offset >= len ? &slot : nullptr;
}

Error GuestMemory::access_error(const char* operation, std::uint64_t gpa, std::uint64_t len, Intent intent,
                                std::uint64_t alignment) const {
  if (auto located = locate(operation, gpa, len, CrossRegion::Deny, intent); !located) return located.error();
  if (alignment != 0 && gpa % alignment != 0) {
    return Error(ErrorKind::InvalidArgument, operation,
                 "address " + hex(gpa) + " is not aligned to " + std::to_string(alignment) + " bytes");
  }
  // The inline path refused what the checked path accepts: a table out of step with the regions.
  return Error(ErrorKind::InvalidArgument, operation, "inconsistent region table at " + hex(gpa));
}

const std::shared_ptr<GuestRegion>* GuestMemory::find_region(std::uint64_t gpa) const noexcept {
  auto pos = std::upper_bound(regions_.begin(), regions_.end(), gpa,
                              [](std::uint64_t a, const auto& r) { return a < r->guest_base(); });
  if (pos == regions_.begin()) return nullptr;
  const auto& candidate = *std::prev(pos);
  return candidate->range().contains(gpa) ? &candidate : nullptr;
}

std::optional<Permission> GuestMemory::permission(std::uint64_t gpa) const noexcept {
  const auto* region = find_region(gpa);
  if (region == nullptr) return std::nullopt;
  return permissions_[static_cast<std::size_t>(region - regions_.data())];
}

Result<std::size_t> GuestMemory::locate(const char* operation, std::uint64_t gpa, std::uint64_t len, CrossRegion cross,
                                        Intent intent) const {
  auto range = AddressRange::make(gpa, len, operation);
  if (!range) return tl::unexpected(range.error());
  const auto* first = find_region(gpa);
  if (first == nullptr) return fail(ErrorKind::OutOfRange, operation, "address " + hex(gpa) + " is not guest RAM");
  const auto first_index = static_cast<std::size_t>(first - regions_.data());
  std::size_t last_index = first_index;
  if (!(*first)->range().contains(*range)) {
    if (cross == CrossRegion::Deny) {
      return fail(
          ErrorKind::OutOfRange, operation,
          hex(len) + " bytes at " + hex(gpa) + " cross the end of the region at " + hex((*first)->guest_base()));
    }
    // Walk forward through adjacent regions; the loop is bounded by the number of regions.
    std::uint64_t covered_last = (*first)->range().last();
    for (std::size_t i = first_index + 1; i < regions_.size() && covered_last < range->last(); ++i) {
      if (regions_[i]->guest_base() != covered_last + 1) break;
      covered_last = regions_[i]->range().last();
      last_index = i;
    }
    if (covered_last < range->last()) {
      return fail(ErrorKind::OutOfRange, operation,
                  "guest RAM ends at " + hex(covered_last) + " inside the " + hex(len) + "-byte access at " + hex(gpa));
    }
  }
  // One check per region the access touches, before any byte is copied. Anything but ReadWrite
  // (even a value outside the enum) is read-only.
  if (intent == Intent::Write) {
    for (std::size_t i = first_index; i <= last_index; ++i) {
      if (permissions_[i] != Permission::ReadWrite) {
        return fail(ErrorKind::PermissionDenied, operation,
                    hex(len) + " bytes at " + hex(gpa) + " reach the read-only region at " +
                        hex(regions_[i]->guest_base()) + ": devices may read it, not write it");
      }
    }
  }
  return first_index;
}

// Calls copy(host_chunk, offset_in_access) for each region-sized piece of [gpa, gpa + len), after
// locate() has checked that all of it is backed.
template <class Copy>
Result<void> GuestMemory::for_each_chunk(const char* operation, std::uint64_t gpa, std::size_t len, CrossRegion cross,
                                         Intent intent, Copy copy) const {
  auto index = locate(operation, gpa, len, cross, intent);
  if (!index) return tl::unexpected(index.error());
  std::size_t done = 0;
  for (std::size_t i = *index; done < len; ++i) {
    Expects(i < regions_.size());
    const auto& region = *regions_[i];
    const std::uint64_t offset = gpa + done - region.guest_base();
    const std::size_t n = std::min<std::uint64_t>(len - done, region.size() - offset);
    copy(region.host().subspan(offset, n), done);
    if (intent == Intent::Write) region.mark_written(offset, n);
    done += n;
  }
  return {};
}

// The guest may write these bytes concurrently from a vCPU; the copy gives a snapshot and callers
// validate what they read before acting on it.
Result<void> GuestMemory::read_slow(std::uint64_t gpa, std::span<std::uint8_t> out, CrossRegion cross) const {
  return for_each_chunk(
      "GuestMemory::read", gpa, out.size(), cross, Intent::Read,
      [&](std::span<std::uint8_t> host, std::size_t at) { std::memcpy(out.data() + at, host.data(), host.size()); });
}

Result<void> GuestMemory::write_slow(std::uint64_t gpa, std::span<const std::uint8_t> in, CrossRegion cross) const {
  return for_each_chunk(
      "GuestMemory::write", gpa, in.size(), cross, Intent::Write,
      [&](std::span<std::uint8_t> host, std::size_t at) { std::memcpy(host.data(), in.data() + at, host.size()); });
}

Result<std::span<std::uint8_t>> GuestMemory::slice(std::uint64_t gpa, std::uint64_t len) const {
  if (const Slot* slot = slot_for(gpa, len); slot != nullptr && slot->writable && len != 0) {
    slot->region->mark_written(gpa - slot->base, len);  // a writable view is taken to be written
    return std::span<std::uint8_t>(slot->at(gpa), len);
  }
  auto index = locate("GuestMemory::slice", gpa, len, CrossRegion::Deny, Intent::Write);
  if (!index) return tl::unexpected(index.error());
  const auto& region = *regions_[*index];
  // A writable view is taken to be written: its pages count as dirty now.
  region.mark_written(gpa - region.guest_base(), len);
  return region.host().subspan(gpa - region.guest_base(), len);
}

Result<std::span<const std::uint8_t>> GuestMemory::view(std::uint64_t gpa, std::uint64_t len) const {
  if (const Slot* slot = slot_for(gpa, len); slot != nullptr && len != 0) {
    return std::span<const std::uint8_t>(slot->at(gpa), len);
  }
  auto index = locate("GuestMemory::view", gpa, len, CrossRegion::Deny, Intent::Read);
  if (!index) return tl::unexpected(index.error());
  const auto& region = *regions_[*index];
  return std::span<const std::uint8_t>(region.host().subspan(gpa - region.guest_base(), len));
}

}  // namespace hv
