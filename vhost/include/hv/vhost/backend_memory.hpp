#pragma once
// The backend's view of its frontend's guest RAM: the memory table that SET_MEM_TABLE replaces and
// ADD_MEM_REG / REM_MEM_REG edit, each region mapped MAP_SHARED from the descriptor that came with it
// (GuestRegion::map_shared). Every change builds a new GuestMemory, addressed by guest-physical
// address, and publishes it as a new std::shared_ptr<const GuestMemory>: a device that still holds the
// previous one keeps those mappings alive until it lets go, so a table change never unmaps memory
// under a request in flight. Regions both versions share are mapped once.
//
// The frontend is untrusted. A change is checked whole before anything is replaced: the region count
// (at most kMaxMemTableRegions in one SET_MEM_TABLE, at most kBackendMemSlots in the table), one
// descriptor per region, no zero size, page alignment, no wrap-around of guest address, user address or
// file offset plus size, no overlap between regions in guest-physical or in the frontend's user address
// space, and a file long enough for each region; a refused change (or a failed mmap) leaves the table
// as it was. The table also translates the frontend's user addresses (SET_VRING_ADDR speaks those)
// into guest-physical ones.
//
// Not thread-safe: the session thread owns it; what it publishes (memory()) is immutable.

#include <cstdint>
#include <memory>
#include <vector>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vhost/message.hpp"

namespace hv::vhost {

// The most regions the backend maps at once: what GET_MAX_MEM_SLOTS answers. 32, as QEMU 7.2's own
// libvhost-user: room for hot-plugged DIMMs beyond SET_MEM_TABLE's 8, while bounding the descriptors
// and mappings one frontend can make this process hold.
inline constexpr std::uint64_t kBackendMemSlots = 32;
static_assert(kBackendMemSlots <= kMaxMemSlots && kBackendMemSlots >= kMaxMemTableRegions);

class BackendMemoryTable {
 public:
  BackendMemoryTable();

  // SET_MEM_TABLE: replaces the whole table (payload MemoryTableHeader + count MemoryRegions, one
  // descriptor each, in message order). The message's descriptors are taken.
  Result<void> set_table(Message& message);
  // ADD_MEM_REG: one SingleMemoryRegion with its descriptor.
  Result<void> add_region(Message& message);
  // REM_MEM_REG: removes the region with this guest address, size and user address (QEMU sends no
  // descriptor; one, if sent, is closed). NotFound when there is none.
  Result<void> remove_region(const Message& message);
  // Drops every region (a reset or a new connection).
  void clear();

  // The current layout; never null (empty before the first SET_MEM_TABLE).
  [[nodiscard]] std::shared_ptr<const GuestMemory> memory() const noexcept { return memory_; }
  [[nodiscard]] std::size_t region_count() const noexcept { return entries_.size(); }
  // The guest-physical address of frontend user address `uva`, when [uva, uva + len) lies inside one
  // region (len > 0); OutOfRange otherwise.
  [[nodiscard]] Result<std::uint64_t> translate(std::uint64_t uva, std::uint64_t len) const;

 private:
  struct Entry {
    MemoryRegion wire;  // as the frontend described it
    std::shared_ptr<GuestRegion> region;
  };
  // Checks `wanted` (the whole table after a change: the existing entries and the new ones) and
  // publishes it.
  Result<void> publish(std::vector<Entry> wanted, const char* operation);

  std::vector<Entry> entries_;
  std::shared_ptr<const GuestMemory> memory_;
};

}  // namespace hv::vhost
