// What every Vm does around its backend: memory() holds exactly the mapped regions with the guest's
// permission, one host range is never mapped twice, and the dirty log includes device writes.
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "hv/hypervisor.hpp"
#include "hv/testing/stub_vm.hpp"

namespace {

// A backend that records what it maps and returns an empty guest dirty log.
class FakeVm final : public hv::testing::StubVm {
 public:
  std::vector<std::pair<std::uint64_t, bool>> mapped;  // guest base, read_only
  std::vector<std::uint32_t> unmapped;
  bool refuse = false;

 protected:
  hv::Result<hv::MemorySlot> map_region(std::shared_ptr<hv::GuestRegion> region, hv::MapOptions options) override {
    if (refuse) return hv::fail(hv::ErrorKind::ResourceExhausted, "map_memory", "no free slot");
    mapped.emplace_back(region->guest_base(), options.read_only);
    sizes_.push_back(region->size());
    return hv::MemorySlot{static_cast<std::uint32_t>(mapped.size() - 1)};
  }
  hv::Result<void> unmap_region(hv::MemorySlot slot) override {
    unmapped.push_back(slot.id);
    return {};
  }
  hv::Result<void> start_dirty_log(hv::MemorySlot) override { return {}; }
  hv::Result<void> stop_dirty_log(hv::MemorySlot) override { return {}; }
  hv::Result<hv::DirtyBitmap> fetch_guest_dirty_log(hv::MemorySlot slot) override {
    hv::DirtyBitmap bitmap;
    bitmap.guest_base = mapped.at(slot.id).first;
    bitmap.pages = sizes_.at(slot.id) / hv::kPageSize;
    bitmap.bits.assign((bitmap.pages + 63) / 64, 0);
    return bitmap;
  }

 private:
  std::vector<std::uint64_t> sizes_;
};

hv::ErrorKind failure(const hv::Result<void>& r) { return r ? hv::ErrorKind::Internal : r.error().kind(); }

TEST(VmMemory, TheVmAndItsMemoryGetTheSamePermission) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x0, 0x2000);
  auto rom = hv::GuestRegion::create(0x10000, 0x1000);
  ASSERT_TRUE(ram && rom);
  ASSERT_TRUE(vm.map_memory(*ram));
  ASSERT_TRUE(vm.map_memory(*rom, {.read_only = true}));
  EXPECT_EQ(vm.mapped, (std::vector<std::pair<std::uint64_t, bool>>{{0x0, false}, {0x10000, true}}));
  const auto memory = vm.memory();
  EXPECT_EQ(memory->permission(0x0), hv::Permission::ReadWrite);
  EXPECT_EQ(memory->permission(0x10000), hv::Permission::ReadOnly);
  const std::array<std::uint8_t, 4> in{1, 2, 3, 4};
  EXPECT_TRUE(memory->write(0x0, in));
  EXPECT_EQ(failure(memory->write(0x10000, in)), hv::ErrorKind::PermissionDenied);
}

TEST(VmMemory, WhenEitherStepFailsNeitherHoldsTheRegion) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x0, 0x2000);
  ASSERT_TRUE(ram);
  vm.refuse = true;
  auto refused = vm.map_memory(*ram);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), hv::ErrorKind::ResourceExhausted);
  EXPECT_TRUE(vm.memory()->regions().empty()) << "memory() kept a region the backend does not map";
  vm.refuse = false;
  ASSERT_TRUE(vm.map_memory(*ram));
  // This fake backend does not check overlaps; GuestMemory does, and the Vm undoes the mapping.
  auto overlapping = hv::GuestRegion::create(0x1000, 0x1000);
  ASSERT_TRUE(overlapping);
  auto overlap = vm.map_memory(*overlapping, {.read_only = true});
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().kind(), hv::ErrorKind::Overlap);
  EXPECT_EQ(vm.unmapped, std::vector<std::uint32_t>{1}) << "the backend's mapping of the refused region stayed";
  EXPECT_EQ(vm.memory()->permission(0x1000), hv::Permission::ReadWrite);
  EXPECT_FALSE(vm.map_memory(nullptr));
}

TEST(VmMemory, UnmapTakesTheRegionOutOfMemory) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x0, 0x2000);
  ASSERT_TRUE(ram);
  auto slot = vm.map_memory(*ram);
  ASSERT_TRUE(slot);
  ASSERT_TRUE(vm.unmap_memory(*slot));
  EXPECT_TRUE(vm.memory()->regions().empty());
  EXPECT_EQ(failure(vm.unmap_memory(*slot)), hv::ErrorKind::NotFound);
}

// One host range at two guest addresses: a device writing through one would change the other, whose
// pages the dirty log would not show. Refused with Overlap, on every backend (this is the Vm's check).
TEST(VmMemory, OneHostRangeAtTwoGuestAddressesIsRefused) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x0, 0x4000);
  ASSERT_TRUE(ram);
  ASSERT_TRUE(vm.map_memory(*ram));
  auto alias = hv::GuestRegion::borrow(0x100000, (*ram)->host().subspan(0x1000, 0x1000));
  ASSERT_TRUE(alias);
  auto refused = vm.map_memory(*alias);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), hv::ErrorKind::Overlap);
  EXPECT_EQ(vm.mapped.size(), 1U) << "the backend was asked to map the alias";
  EXPECT_EQ(vm.memory()->find_region(0x100000), nullptr);
}

// The hypervisor logs what the guest writes; what devices write through GuestMemory is merged in.
TEST(VmMemory, DeviceWritesReachTheDirtyLog) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x10000, 0x8000);  // 8 pages
  ASSERT_TRUE(ram);
  auto slot = vm.map_memory(*ram);
  ASSERT_TRUE(slot);
  const std::array<std::uint8_t, 2> bytes{1, 2};
  ASSERT_TRUE(vm.memory()->write(0x10000, bytes));  // before logging: not reported
  ASSERT_TRUE(vm.enable_dirty_log(*slot));
  ASSERT_TRUE(vm.memory()->write(0x11fff, bytes));                 // pages 1 and 2
  ASSERT_TRUE(vm.memory()->write_obj<std::uint32_t>(0x15000, 7));  // page 5
  ASSERT_TRUE(vm.memory()->slice(0x17010, 16));                    // a writable view: page 7
  hv::GuestMemory other;  // a second GuestMemory holding the region: its writes count too
  ASSERT_TRUE(other.add_region(*ram));
  ASSERT_TRUE(other.write(0x13000, bytes));  // page 3
  ASSERT_TRUE(vm.memory()->read(0x14000, std::span<std::uint8_t>(std::array<std::uint8_t, 4>{}.data(), 4)));
  auto log = vm.fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(log) << log.error().to_string();
  EXPECT_EQ(log->dirty_addresses(), (std::vector<std::uint64_t>{0x11000, 0x12000, 0x13000, 0x15000, 0x17000}));
  auto again = vm.fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->dirty_addresses().empty()) << "fetch did not clear the device writes";
  ASSERT_TRUE(vm.disable_dirty_log(*slot));
  ASSERT_TRUE(vm.memory()->write(0x16000, bytes));
  ASSERT_TRUE(vm.enable_dirty_log(*slot));
  auto after = vm.fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->dirty_addresses().empty()) << "a write while logging was off was reported";
}

TEST(VmMemory, MappingWithLogDirtyTracksDeviceWritesFromTheStart) {
  FakeVm vm;
  auto ram = hv::GuestRegion::create(0x0, 0x2000);
  ASSERT_TRUE(ram);
  auto slot = vm.map_memory(*ram, {.log_dirty = true});
  ASSERT_TRUE(slot);
  ASSERT_TRUE(vm.memory()->write_obj<std::uint8_t>(0x1000, 1));
  auto log = vm.fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->dirty_addresses(), std::vector<std::uint64_t>{0x1000});
}

}  // namespace
