#pragma once
// The guest RAM a partition has mapped, as the backend itself must read and write it to complete
// string IO and emulated instructions (the hypervisor gives it GPAs, not data). Shared by the VM and
// its vCPUs; map/unmap take the lock exclusively, accesses share it.

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>

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

 private:
  struct Entry {
    std::shared_ptr<GuestRegion> region;
    bool writable = true;
  };
  const Entry* find(std::uint64_t gpa, std::size_t size) const;
  mutable std::shared_mutex mutex_;
  std::map<std::uint32_t, Entry> slots_;
};

}  // namespace hv::mshv::detail
