#pragma once
// The guest RAM a partition has mapped, as the backend itself must read and write it to complete
// string IO and emulated instructions (the hypervisor gives it GPAs, not data). Shared by the VM and
// its vCPUs; map/unmap take the lock exclusively, accesses share it.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <vector>

#include "hv/guest_memory.hpp"

namespace hv::mshv::detail {

class PartitionMemory {
 public:
  void add(std::uint32_t slot, std::shared_ptr<GuestRegion> region, bool writable);
  std::shared_ptr<GuestRegion> remove(std::uint32_t slot);
  // Whether [gpa, gpa+size) lies in one mapped region (writable when `write`).
  bool contains(std::uint64_t gpa, std::size_t size, bool write) const;
  // Copies within one region; false if the range is not RAM there.
  bool read(std::uint64_t gpa, std::span<std::uint8_t> out) const;
  bool write(std::uint64_t gpa, std::span<const std::uint8_t> in) const;
  std::shared_ptr<GuestRegion> region(std::uint32_t slot) const;
  bool overlaps(std::uint64_t gpa, std::uint64_t size) const;
  // The hypervisor's dirty bitmap sees only the guest's own writes; what the backend writes for it
  // (INS data, emulated stores) is logged here while the slot's dirty log is on.
  void set_logging(std::uint32_t slot, bool on);
  // The pages the backend wrote since the last call (bit i = page i of the slot), then cleared.
  std::vector<std::uint64_t> take_dirty(std::uint32_t slot);

 private:
  struct Entry {
    std::shared_ptr<GuestRegion> region;
    bool writable = true;
    // Empty while not logging; words are set by concurrent writers holding the shared lock.
    mutable std::vector<std::atomic<std::uint64_t>> dirty;
  };
  const Entry* find(std::uint64_t gpa, std::size_t size) const;
  mutable std::shared_mutex mutex_;
  std::map<std::uint32_t, Entry> slots_;
};

}  // namespace hv::mshv::detail
