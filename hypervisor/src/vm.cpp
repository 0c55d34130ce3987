#include <bit>
#include <cstdint>
#include <string>

#include "hv/hypervisor.hpp"

namespace hv {

namespace {
// The GuestMemory permission that matches a Vm mapping: no device may write what the guest cannot.
Permission permission_for(const MapOptions& options) noexcept {
  return options.read_only ? Permission::ReadOnly : Permission::ReadWrite;
}

// Whether two regions' host mappings share a byte.
bool host_overlaps(const GuestRegion& a, const GuestRegion& b) noexcept {
  const auto a_begin = std::bit_cast<std::uintptr_t>(a.host().data());  // compared as numbers only
  const auto b_begin = std::bit_cast<std::uintptr_t>(b.host().data());
  return a_begin < b_begin + b.size() && b_begin < a_begin + a.size();
}
}  // namespace

Result<MemorySlot> Vm::map_memory(std::shared_ptr<GuestRegion> region, MapOptions options) {
  constexpr const char* op = "Vm::map_memory";
  if (!region) return fail(ErrorKind::InvalidArgument, op, "null region");
  std::lock_guard lock(memory_mutex_);
  for (const auto& [id, mapped] : slots_) {
    if (host_overlaps(*mapped, *region)) {
      return fail(ErrorKind::Overlap, op,
                  "the host memory of region " + hex(region->guest_base()) + "+" + hex(region->size()) +
                      " is already mapped in slot " + std::to_string(id) + " at " + hex(mapped->guest_base()) +
                      ": one host range at two guest addresses is refused");
    }
  }
  auto slot = map_region(region, options);
  if (!slot) return slot;
  if (auto added = memory_->add_region(region, permission_for(options)); !added) {
    (void)unmap_region(*slot);  // the backend accepted what GuestMemory refuses: undo, report the refusal
    return tl::unexpected(added.error());
  }
  if (options.log_dirty) {
    if (auto tracking = region->start_write_tracking(); !tracking) {
      (void)memory_->remove_region(region->guest_base());
      (void)unmap_region(*slot);
      return tl::unexpected(tracking.error());
    }
  }
  slots_.emplace(slot->id, std::move(region));
  return slot;
}

Result<void> Vm::unmap_memory(MemorySlot slot) {
  std::lock_guard lock(memory_mutex_);
  auto it = slots_.find(slot.id);
  if (it == slots_.end()) {
    return fail(ErrorKind::NotFound, "Vm::unmap_memory", "no memory is mapped in slot " + std::to_string(slot.id));
  }
  if (auto r = unmap_region(slot); !r) return r;
  (void)memory_->remove_region(it->second->guest_base());  // added with the slot, so present
  slots_.erase(it);
  return {};
}

std::shared_ptr<GuestRegion> Vm::region_in(MemorySlot slot) const {
  std::lock_guard lock(memory_mutex_);
  auto it = slots_.find(slot.id);
  return it == slots_.end() ? nullptr : it->second;
}

Result<void> Vm::enable_dirty_log(MemorySlot slot) {
  auto region = region_in(slot);
  if (!region) {
    return fail(ErrorKind::NotFound, "Vm::enable_dirty_log", "no memory is mapped in slot " + std::to_string(slot.id));
  }
  if (auto r = region->start_write_tracking(); !r) return r;
  if (auto r = start_dirty_log(slot); !r) {
    region->stop_write_tracking();
    return r;
  }
  return {};
}

Result<DirtyBitmap> Vm::fetch_and_clear_dirty_log(MemorySlot slot) {
  auto region = region_in(slot);
  auto bitmap = fetch_guest_dirty_log(slot);  // the backend's NotFound / not-logging errors come first
  if (!bitmap) return bitmap;
  if (region) region->take_written(bitmap->bits);
  return bitmap;
}

Result<void> Vm::disable_dirty_log(MemorySlot slot) {
  auto region = region_in(slot);
  if (auto r = stop_dirty_log(slot); !r) return r;
  if (region) region->stop_write_tracking();
  return {};
}

}  // namespace hv
