#pragma once
// Guest RAM as the host sees it: regions of host memory, each at a guest-physical base, with
// bounds-checked access. Both backends map these regions into VMs and every device reads and writes
// guest memory through GuestMemory, so one set of checks guards all of them. Each region carries a
// permission: a device may read a read-only region (a ROM) but never write it.

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "hv/address_range.hpp"
#include "hv/detail/shared_word.hpp"
#include "hv/error.hpp"
#include "hv/unique_fd.hpp"

namespace hv {

enum class Backing : std::uint8_t {
  Anonymous,  // private anonymous memory
  Memfd,      // a sealed-size memfd, shareable with an out-of-process device (vhost-user)
  SharedFd,   // another process's memory, mapped MAP_SHARED from a descriptor it sent (a vhost-user backend)
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
  // A region over bytes [fd_offset, fd_offset + size) of a descriptor another process sent (a
  // vhost-user frontend's guest RAM), mapped MAP_SHARED and unmapped when the region dies; the region
  // keeps `fd` (memfd() returns it). guest_base, size and fd_offset must be page-aligned, size in
  // (0, kMaxRegionSize]; the descriptor must be a regular file covering the whole range (a shorter
  // one would fault this process on first access), OutOfRange otherwise. Backing::SharedFd.
  static Result<std::shared_ptr<GuestRegion>> map_shared(std::uint64_t guest_base, std::uint64_t size, UniqueFd fd,
                                                         std::uint64_t fd_offset);
  GuestRegion(const GuestRegion&) = delete;
  GuestRegion& operator=(const GuestRegion&) = delete;
  ~GuestRegion();

  [[nodiscard]] AddressRange range() const noexcept { return range_; }
  [[nodiscard]] std::uint64_t guest_base() const noexcept { return range_.start(); }
  [[nodiscard]] std::uint64_t size() const noexcept { return range_.size(); }
  [[nodiscard]] Backing backing() const noexcept { return backing_; }
  // The descriptor behind a Memfd or SharedFd region; -1 for anonymous memory.
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
  // Marks the pages of [offset, offset + len) (offsets into the region) when tracking is on. Inline:
  // every device write pays this check, and with tracking off it is one load.
  void mark_written(std::uint64_t offset, std::uint64_t len) const noexcept {
    if (len != 0 && tracking_.load(std::memory_order_acquire)) mark_written_pages(offset, len);
  }
  // ORs the pages marked since the last call into `bits` (bit i: page i of the region) and clears them.
  void take_written(std::span<std::uint64_t> bits) const noexcept;

 private:
  GuestRegion(AddressRange range, Backing backing, std::uint8_t* host, UniqueFd memfd, bool owned = true) noexcept;
  void mark_written_pages(std::uint64_t offset, std::uint64_t len) const noexcept;
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

// One lookup, several accesses: [gpa, gpa + size) inside one writable region, for code that writes a
// few fields of one structure (a used ring's element, then its index). Offsets are relative to the
// window and the caller derives them from state it has already validated, so an offset outside the
// window is a bug in hvkit (a contract violation), not a guest error. It points into the region's
// host mapping: use it within the call that made it, while the GuestMemory it came from is alive
// (the rule for slice() as well).
class GuestWindow {
 public:
  template <class T>
  requires std::is_trivially_copyable_v<T>
  void write_obj(std::uint64_t offset, const T& value) const noexcept {
    std::memcpy(at(offset, sizeof(T)), &value, sizeof(T));
    region_->mark_written(region_offset_ + offset, sizeof(T));
  }
  // Atomic; `offset` must keep the guest address aligned to sizeof(T).
  template <detail::SharedWord T>
  void store(std::uint64_t offset, T value, std::memory_order order) const noexcept {
    if ((base_ + offset) % sizeof(T) != 0) [[unlikely]]
      std::terminate();  // a contract violation, as in at()
    detail::shared_word<T>(at(offset, sizeof(T))).store(value, order);
    region_->mark_written(region_offset_ + offset, sizeof(T));
  }
  GuestWindow() noexcept = default;  // empty
  [[nodiscard]] explicit operator bool() const noexcept { return host_ != nullptr; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

 private:
  friend class GuestMemory;
  GuestWindow(std::uint8_t* host, std::uint64_t base, std::uint64_t size, const GuestRegion* region,
              std::uint64_t region_offset) noexcept
      : host_(host), base_(base), size_(size), region_(region), region_offset_(region_offset) {}
  [[nodiscard]] std::uint8_t* at(std::uint64_t offset, std::uint64_t len) const noexcept {
    // A contract check without GSL's Expects: this header is installed, and the installed package
    // must not need GSL (scripts/test.sh checks).
    if (host_ == nullptr || offset > size_ || len > size_ - offset) [[unlikely]]
      std::terminate();
    return host_ + offset;  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): checked above
  }
  std::uint8_t* host_ = nullptr;
  std::uint64_t base_ = 0;  // guest address of host_[0], for the alignment check
  std::uint64_t size_ = 0;
  const GuestRegion* region_ = nullptr;
  std::uint64_t region_offset_ = 0;  // of host_[0] in the region, for write tracking
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
  // once per region, not per byte); reads are allowed everywhere. An access inside one region takes
  // the inline path (a lookup in a flat table, one memcpy); the rest (errors, crossing regions) goes
  // out of line.
  Result<void> read(std::uint64_t gpa, std::span<std::uint8_t> out, CrossRegion cross = CrossRegion::Deny) const {
    if (const Slot* slot = slot_for(gpa, out.size()); slot != nullptr && !out.empty()) [[likely]] {
      std::memcpy(out.data(), slot->at(gpa), out.size());
      return {};
    }
    return read_slow(gpa, out, cross);
  }
  Result<void> write(std::uint64_t gpa, std::span<const std::uint8_t> in, CrossRegion cross = CrossRegion::Deny) const {
    if (const Slot* slot = slot_for(gpa, in.size()); slot != nullptr && slot->writable && !in.empty()) [[likely]] {
      std::memcpy(slot->at(gpa), in.data(), in.size());
      slot->region->mark_written(gpa - slot->base, in.size());
      return {};
    }
    return write_slow(gpa, in, cross);
  }

  // One object of guest memory, copied (the guest may change it at any time: validate what you read).
  template <class T>
  requires std::is_trivially_copyable_v<T> Result<T> read_obj(std::uint64_t gpa)
  const {
    if (const Slot* slot = slot_for(gpa, sizeof(T))) [[likely]] {
      std::array<std::uint8_t, sizeof(T)> bytes{};          // the zeroing is a dead store: the compiler drops it
      std::memcpy(bytes.data(), slot->at(gpa), sizeof(T));  // one load for 1, 2, 4 and 8 bytes
      return std::bit_cast<T>(bytes);
    }
    return tl::unexpected(access_error("GuestMemory::read", gpa, sizeof(T), Intent::Read));
  }

  template <class T>
  requires std::is_trivially_copyable_v<T> Result<void> write_obj(std::uint64_t gpa, const T& value)
  const {
    if (const Slot* slot = slot_for(gpa, sizeof(T)); slot != nullptr && slot->writable) [[likely]] {
      std::memcpy(slot->at(gpa), &value, sizeof(T));  // one store for 1, 2, 4 and 8 bytes
      slot->region->mark_written(gpa - slot->base, sizeof(T));
      return {};
    }
    return tl::unexpected(access_error("GuestMemory::write", gpa, sizeof(T), Intent::Write));
  }

  // Atomic, ordered access to one naturally aligned integer, for fields the driver and the device
  // update concurrently (ring indices, event suppression). A misaligned address is InvalidArgument.
  template <detail::SharedWord T>
  Result<T> load(std::uint64_t gpa, std::memory_order order) const {
    if (const Slot* slot = slot_for(gpa, sizeof(T)); slot != nullptr && gpa % sizeof(T) == 0) [[likely]] {
      return detail::shared_word<T>(slot->at(gpa)).load(order);
    }
    return tl::unexpected(access_error("GuestMemory::load", gpa, sizeof(T), Intent::Read, sizeof(T)));
  }
  template <detail::SharedWord T>
  Result<void> store(std::uint64_t gpa, T value, std::memory_order order) const {
    if (const Slot* slot = slot_for(gpa, sizeof(T)); slot != nullptr && slot->writable && gpa % sizeof(T) == 0)
        [[likely]] {
      detail::shared_word<T>(slot->at(gpa)).store(value, order);
      slot->region->mark_written(gpa - slot->base, sizeof(T));
      return {};
    }
    return tl::unexpected(access_error("GuestMemory::store", gpa, sizeof(T), Intent::Write, sizeof(T)));
  }

  // Whether [gpa, gpa + len) lies inside one region (len > 0), and whether devices may write it: the
  // checks of view() and slice() without building a view or an error.
  [[nodiscard]] bool contains(std::uint64_t gpa, std::uint64_t len) const noexcept {
    return len != 0 && slot_for(gpa, len) != nullptr;
  }
  [[nodiscard]] bool writable(std::uint64_t gpa, std::uint64_t len) const noexcept {
    const Slot* slot = slot_for(gpa, len);
    return len != 0 && slot != nullptr && slot->writable;
  }

  // [gpa, gpa + len) as a GuestWindow when it lies inside one writable region (the checks of slice(),
  // without marking the whole range written: the window marks what it writes); an empty window
  // (false) when it does not, and window_error() says why. Not a Result: on the hot paths that use it
  // (a used ring, per request) a plain value stays in registers.
  [[nodiscard]] GuestWindow writable_window(std::uint64_t gpa, std::uint64_t len) const noexcept {
    if (const Slot* slot = slot_for(gpa, len); slot != nullptr && slot->writable && len != 0) [[likely]] {
      return GuestWindow(slot->at(gpa), gpa, len, slot->region, gpa - slot->base);
    }
    return {};
  }
  [[nodiscard]] Error window_error(std::uint64_t gpa, std::uint64_t len) const {
    return access_error("GuestMemory::writable_window", gpa, len, Intent::Write);
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
  // What the inline paths need of a region, in one flat entry: no shared_ptr or region object to
  // follow before the bounds check.
  struct Slot {
    std::uint64_t base = 0;
    std::uint64_t size = 0;
    std::uint8_t* host = nullptr;
    const GuestRegion* region = nullptr;  // kept alive by regions_
    bool writable = false;
    [[nodiscard]] std::uint8_t* at(std::uint64_t gpa) const noexcept {
      return host + (gpa - base);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): slot_for checked it
    }
  };
  // The region that holds all of [gpa, gpa + len), or nullptr. Unsigned wrap-around makes each test
  // one subtraction and two comparisons: gpa below the base wraps to a huge offset.
  [[nodiscard]] const Slot* slot_for(std::uint64_t gpa, std::uint64_t len) const noexcept {
    if (slots_.size() <= kLinearSearchLimit) [[likely]] {
      for (const Slot& slot : slots_) {
        const std::uint64_t offset = gpa - slot.base;
        if (offset < slot.size && slot.size - offset >= len) return &slot;
      }
      return nullptr;
    }
    return slot_for_sorted(gpa, len);
  }
  static constexpr std::size_t kLinearSearchLimit = 8;  // beyond this, a binary search
  [[nodiscard]] const Slot* slot_for_sorted(std::uint64_t gpa, std::uint64_t len) const noexcept;
  void rebuild_slots();
  Result<void> read_slow(std::uint64_t gpa, std::span<std::uint8_t> out, CrossRegion cross) const;
  Result<void> write_slow(std::uint64_t gpa, std::span<const std::uint8_t> in, CrossRegion cross) const;
  // The error the checked path reports for a failed inline access (alignment: required, 0 for none).
  [[nodiscard, gnu::cold]] Error access_error(const char* operation, std::uint64_t gpa, std::uint64_t len,
                                              Intent intent, std::uint64_t alignment = 0) const;

  std::vector<std::shared_ptr<GuestRegion>> regions_;  // sorted by guest_base
  std::vector<Permission> permissions_;                // permissions_[i] is regions_[i]'s
  std::vector<Slot> slots_;                            // slots_[i] describes regions_[i]
};

}  // namespace hv
