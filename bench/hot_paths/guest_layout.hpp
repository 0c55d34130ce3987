#pragma once
// The guest-memory layouts of the peer comparison, identical on both sides: one 4 MiB region at 0;
// for indirect tables a second memory that adds a 1 MiB region at 0x3000_0000 (where rust-vmm's mock
// driver puts them). Every page is touched before timing, so no shape pays for first-touch faults.

#include <cstdlib>
#include <memory>

#include "hv/guest_memory.hpp"

namespace hvbench {

inline constexpr std::uint64_t kMainRegionSize = 4ULL << 20;
inline constexpr std::uint64_t kIndirectBase = 0x3000'0000;
inline constexpr std::uint64_t kIndirectRegionSize = 1ULL << 20;

inline std::shared_ptr<const hv::GuestMemory> make_memory(bool with_indirect_region) {
  std::vector<hv::RegionSpec> specs{{0, kMainRegionSize}};
  if (with_indirect_region) specs.push_back({kIndirectBase, kIndirectRegionSize});
  auto memory = hv::GuestMemory::create(specs);
  if (!memory) std::abort();
  for (const auto& region : memory->regions()) {
    for (std::uint64_t offset = 0; offset < region->size(); offset += 4096) region->host()[offset] = 0;
  }
  return std::make_shared<const hv::GuestMemory>(std::move(*memory));
}

inline std::shared_ptr<const hv::GuestMemory> one_region() { return make_memory(false); }
inline std::shared_ptr<const hv::GuestMemory> two_regions() { return make_memory(true); }

}  // namespace hvbench
