#include "mshv_memory.hpp"

#include <cstring>
#include <mutex>

namespace hv::mshv::detail {

void PartitionMemory::add(std::uint32_t slot, std::shared_ptr<GuestRegion> region, bool writable) {
  std::unique_lock lock(mutex_);
  Entry entry;
  entry.region = std::move(region);
  entry.writable = writable;
  slots_[slot] = std::move(entry);
}

std::shared_ptr<GuestRegion> PartitionMemory::remove(std::uint32_t slot) {
  std::unique_lock lock(mutex_);
  auto it = slots_.find(slot);
  if (it == slots_.end()) return nullptr;
  auto region = std::move(it->second.region);
  slots_.erase(it);
  return region;
}

std::shared_ptr<GuestRegion> PartitionMemory::region(std::uint32_t slot) const {
  std::shared_lock lock(mutex_);
  auto it = slots_.find(slot);
  return it == slots_.end() ? nullptr : it->second.region;
}

bool PartitionMemory::overlaps(std::uint64_t gpa, std::uint64_t size) const {
  std::shared_lock lock(mutex_);
  for (const auto& [slot, e] : slots_) {
    const auto r = e.region->range();
    if (gpa < r.start() + r.size() && r.start() < gpa + size) return true;
  }
  return false;
}

const PartitionMemory::Entry* PartitionMemory::find(std::uint64_t gpa, std::size_t size) const {
  for (const auto& [slot, e] : slots_) {
    const auto base = e.region->guest_base();
    if (gpa >= base && gpa - base < e.region->size() && size <= e.region->size() - (gpa - base)) return &e;
  }
  return nullptr;
}

bool PartitionMemory::contains(std::uint64_t gpa, std::size_t size, bool write) const {
  std::shared_lock lock(mutex_);
  const Entry* e = find(gpa, size);
  return e != nullptr && (!write || e->writable);
}

bool PartitionMemory::read(std::uint64_t gpa, std::span<std::uint8_t> out) const {
  std::shared_lock lock(mutex_);
  const Entry* e = find(gpa, out.size());
  if (e == nullptr) return false;
  std::memcpy(out.data(), e->region->host().data() + (gpa - e->region->guest_base()), out.size());
  return true;
}

bool PartitionMemory::write(std::uint64_t gpa, std::span<const std::uint8_t> in) const {
  std::shared_lock lock(mutex_);
  const Entry* e = find(gpa, in.size());
  if (e == nullptr || !e->writable) return false;
  const std::uint64_t offset = gpa - e->region->guest_base();
  std::memcpy(e->region->host().data() + offset, in.data(), in.size());
  if (!e->dirty.empty() && !in.empty()) {
    for (std::uint64_t page = offset / kPageSize; page <= (offset + in.size() - 1) / kPageSize; ++page) {
      e->dirty[page / 64].fetch_or(std::uint64_t{1} << (page % 64));
    }
  }
  return true;
}

void PartitionMemory::set_logging(std::uint32_t slot, bool on) {
  std::unique_lock lock(mutex_);
  auto it = slots_.find(slot);
  if (it == slots_.end()) return;
  const std::uint64_t pages = it->second.region->size() / kPageSize;
  it->second.dirty =
      on ? std::vector<std::atomic<std::uint64_t>>((pages + 63) / 64) : std::vector<std::atomic<std::uint64_t>>{};
}

std::vector<std::uint64_t> PartitionMemory::take_dirty(std::uint32_t slot) {
  std::shared_lock lock(mutex_);
  auto it = slots_.find(slot);
  std::vector<std::uint64_t> out;
  if (it == slots_.end()) return out;
  for (auto& word : it->second.dirty) out.push_back(word.exchange(0));
  return out;
}

}  // namespace hv::mshv::detail
