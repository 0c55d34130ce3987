#pragma once
// A region mapped into a Vm and added to the GuestMemory its devices use, in one call with one
// permission: a region the guest may only read (MapOptions::read_only) is one devices may only read
// (Permission::ReadOnly), so no device can write what the guest cannot. Threat model:
// docs/threat-model/guest-memory.md.

#include <memory>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"

namespace hv {

// The GuestMemory permission that matches a Vm mapping.
[[nodiscard]] inline Permission permission_for(const MapOptions& options) noexcept {
  return options.read_only ? Permission::ReadOnly : Permission::ReadWrite;
}

// Adds `region` to `memory` with permission_for(options), then maps it into `vm` with `options`. When
// either step fails, neither holds the region afterwards.
inline Result<MemorySlot> map_guest_region(Vm& vm, GuestMemory& memory, const std::shared_ptr<GuestRegion>& region,
                                           MapOptions options = {}) {
  if (!region) return fail(ErrorKind::InvalidArgument, "map_guest_region", "null region");
  if (auto added = memory.add_region(region, permission_for(options)); !added) return tl::unexpected(added.error());
  auto slot = vm.map_memory(region, options);
  // Undoes the add_region above, which cannot fail for a region just added; the caller gets map_memory's error.
  if (!slot) (void)memory.remove_region(region->guest_base());
  return slot;
}

}  // namespace hv
