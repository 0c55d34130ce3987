#pragma once
// Guest RAM as the host sees it: regions of host memory, each at a guest-physical base, with
// bounds-checked access. Both backends map these regions into VMs and every device reads and writes
// guest memory through GuestMemory, so one set of checks guards all of them. Each region carries a
// permission: a device may read a read-only region (a ROM) but never write it.

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "hv/address_range.hpp"
#include "hv/error.hpp"
#include "hv/unique_fd.hpp"

namespace hv {

enum class Backing : std::uint8_t {
  Anonymous,  // private anonymous memory
  Memfd,      // a sealed-size memfd, shareable with an out-of-process device (vhost-user)
};

// The largest single region hvkit creates (1 TiB); larger requests are a caller bug, not a VM.
inline constexpr std::uint64_t kMaxRegionSize = std::uint64_t{1} << 40;

// One contiguous guest-physical range backed by one host mapping. Shared ownership: a Vm that maps the
// region keeps it alive, so host memory can never be unmapped while a guest can still reach it.
class GuestRegion {
 public:
  // guest_base and size must be page-aligned; size in (0, kMaxRegionSize].
  static Result<std::shared_ptr<GuestRegion>> create(std::uint64_t guest_base, std::uint64_t size,
                                                     Backing backing = Backing::Anonymous);
  // A region over host memory someone else mapped and keeps mapped for the region's whole lifetime
  // (the region never unmaps it). For code that receives guest RAM by address, as a kernel does: the
  // MSHV ABI simulator. Same alignment and size rules as create(); Backing::Anonymous, no memfd.
  static Result<std::shared_ptr<GuestRegion>> borrow(std::uint64_t guest_base, std::span<std::uint8_t> host);
  GuestRegion(const GuestRegion&) = delete;
  GuestRegion& operator=(const GuestRegion&) = delete;
  ~GuestRegion();

  [[nodiscard]] AddressRange range() const noexcept { return range_; }
  [[nodiscard]] std::uint64_t guest_base() const noexcept { return range_.start(); }
  [[nodiscard]] std::uint64_t size() const noexcept { return range_.size(); }
  [[nodiscard]] Backing backing() const noexcept { return backing_; }
  // -1 for anonymous memory.
  [[nodiscard]] int memfd() const noexcept { return memfd_.get(); }
  // The whole host mapping. The guest may write it concurrently: treat its contents as untrusted.
  [[nodiscard]] std::span<std::uint8_t> host() const noexcept { return {host_, range_.size()}; }

  // Write tracking, for dirty logging: the hypervisor logs what the guest writes, not what devices
  // write through GuestMemory (used rings, read data). While tracking is on, every GuestMemory write
  // and writable slice marks its pages here; Vm::fetch_and_clear_dirty_log merges them into the log.
  // The bitmap (one bit per page) is allocated on the first start and kept until the region dies, so
  // a writer racing stop/start never sees it freed.
  Result<void> start_write_tracking();
  void stop_write_tracking() noexcept;
  // Marks the pages of [offset, offset + len) (offsets into the region) when tracking is on.
  void mark_written(std::uint64_t offset, std::uint64_t len) const noexcept;
  // ORs the pages marked since the last call into `bits` (bit i: page i of the region) and clears them.
  void take_written(std::span<std::uint64_t> bits) const noexcept;

 private:
  GuestRegion(AddressRange range, Backing backing, std::uint8_t* host, UniqueFd memfd, bool owned = true) noexcept;
  AddressRange range_;
  Backing backing_;
  std::uint8_t* host_;
  UniqueFd memfd_;
  bool owned_ = true;
  std::mutex tracking_mutex_;  // serialises start/stop; writers only read the two atomics below
  std::unique_ptr<std::atomic<std::uint64_t>[]> written_;  // NOLINT(cppcoreguidelines-avoid-c-arrays): sized at start
  std::atomic<std::atomic<std::uint64_t>*> written_words_{nullptr};
  std::atomic<bool> tracking_{false};
};

// Whether one access may continue from one region into the next adjacent one.
enum class CrossRegion : std::uint8_t { Deny, Allow };

// What devices may do to a region through GuestMemory. Keep it in step with the Vm mapping: a region
// mapped with MapOptions{.read_only = true} is added here as ReadOnly, or a device could write what
// the guest itself cannot.
enum class Permission : std::uint8_t {
  ReadWrite,
  ReadOnly,  // read and view succeed; write, write_obj and slice fail with PermissionDenied
};

struct RegionSpec {
  std::uint64_t guest_base = 0;
  std::uint64_t size = 0;
  Permission permission = Permission::ReadWrite;
};

// A set of non-overlapping regions, sorted by guest address; lookups are O(log n).
// Layout changes (add/remove) must not race with accesses; accesses may run concurrently.
class GuestMemory {
 public:
  GuestMemory() = default;
  static Result<GuestMemory> create(std::span<const RegionSpec> specs, Backing backing = Backing::Anonymous);

  // Overlap with an existing region is rejected. To change a region's permission, remove it and add
  // it again (a layout change).
  Result<void> add_region(std::shared_ptr<GuestRegion> region, Permission permission = Permission::ReadWrite);
  // NotFound unless a region starts exactly at guest_base.
  Result<std::shared_ptr<GuestRegion>> remove_region(std::uint64_t guest_base);

  // The owner's view, for the VMM that built the layout: GuestRegion::host() is writable whatever the
  // region's permission (that is how a VMM fills a ROM). Devices use the accessors below instead.
  [[nodiscard]] std::span<const std::shared_ptr<GuestRegion>> regions() const noexcept { return regions_; }
  // The region containing gpa, or nullptr.
  [[nodiscard]] const std::shared_ptr<GuestRegion>* find_region(std::uint64_t gpa) const noexcept;
  // The permission of the region containing gpa; nullopt outside guest RAM.
  [[nodiscard]] std::optional<Permission> permission(std::uint64_t gpa) const noexcept;

  // Each either copies every byte or none: a failed check leaves memory and `out` untouched. A write
  // that would touch a ReadOnly region fails with PermissionDenied before copying anything (checked
  // once per region, not per byte); reads are allowed everywhere.
  Result<void> read(std::uint64_t gpa, std::span<std::uint8_t> out, CrossRegion cross = CrossRegion::Deny) const;
  Result<void> write(std::uint64_t gpa, std::span<const std::uint8_t> in, CrossRegion cross = CrossRegion::Deny) const;

  template <class T>
  requires std::is_trivially_copyable_v<T> Result<T> read_obj(std::uint64_t gpa)
  const {
    std::array<std::uint8_t, sizeof(T)> bytes{};
    auto r = read(gpa, bytes);
    if (!r) return tl::unexpected(std::move(r.error()));
    return std::bit_cast<T>(bytes);
  }

  template <class T>
  requires std::is_trivially_copyable_v<T> Result<void> write_obj(std::uint64_t gpa, const T& value)
  const {
    const auto bytes = std::bit_cast<std::array<std::uint8_t, sizeof(T)>>(value);
    return write(gpa, bytes);
  }

  // Writable host view of [gpa, gpa + len) when it lies inside one region; PermissionDenied when that
  // region is ReadOnly. For code that writes in place (page tables) or checks that a device may write
  // there (a used ring).
  Result<std::span<std::uint8_t>> slice(std::uint64_t gpa, std::uint64_t len) const;
  // Read-only host view of [gpa, gpa + len) when it lies inside one region, whatever its permission.
  Result<std::span<const std::uint8_t>> view(std::uint64_t gpa, std::uint64_t len) const;

 private:
  enum class Intent : std::uint8_t { Read, Write };
  // Checks that [gpa, gpa + len) is fully backed (and, for a write, writable); returns the index of
  // the first region.
  Result<std::size_t> locate(const char* operation, std::uint64_t gpa, std::uint64_t len, CrossRegion cross,
                             Intent intent) const;
  template <class Copy>
  Result<void> for_each_chunk(const char* operation, std::uint64_t gpa, std::size_t len, CrossRegion cross,
                              Intent intent, Copy copy) const;
  std::vector<std::shared_ptr<GuestRegion>> regions_;  // sorted by guest_base
  std::vector<Permission> permissions_;                // permissions_[i] is regions_[i]'s
};

}  // namespace hv
