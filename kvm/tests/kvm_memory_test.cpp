// Mapping, unmapping, read-only regions and dirty logging on /dev/kvm.
#include "kvm_test_support.hpp"

namespace {

using hv::testing::Space;
using hvtest::KvmVmTest;

constexpr std::uint64_t kDataBase = 0x10000;

// mov ax, 0x1000; mov ds, ax  — DS now addresses guest-physical 0x10000.
#define POINT_DS_AT_DATA 0xB8, 0x00, 0x10, 0x8E, 0xD8

std::shared_ptr<hv::GuestRegion> make_region(std::uint64_t base, std::uint64_t size) {
  auto r = hv::GuestRegion::create(base, size);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : nullptr;
}

TEST_F(KvmVmTest, OverlappingMappingIsRejected) {
  auto r = vm->map_memory(make_region(0x4000, 0x1000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::Overlap);
  EXPECT_NE(r.error().message().find("slot 0"), std::string::npos) << r.error().message();
}

TEST_F(KvmVmTest, UnmapThenRemapBetweenRuns) {
  auto data = make_region(kDataBase, 0x1000);
  data->host()[0] = 0x77;
  auto slot = vm->map_memory(data);
  ASSERT_TRUE(slot);
  load({POINT_DS_AT_DATA, 0xA0, 0x00, 0x00,  // mov al, [0]
        0xF4});
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  EXPECT_EQ(vcpu->get_registers()->rax & 0xff, 0x77U) << "read from mapped memory";

  ASSERT_TRUE(vm->unmap_memory(*slot));
  ASSERT_NO_FATAL_FAILURE(enter_real_mode(*vcpu, hvtest::kCodeAddress));
  io.answer_reads_with([](Space, std::uint64_t, std::span<std::uint8_t> bytes) { bytes[0] = 0x66; });
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  ASSERT_EQ(io.accesses.size(), 1U) << "unmapped memory must reach the IoHandler as MMIO";
  EXPECT_TRUE(io.accesses[0].is(Space::Mmio, kDataBase, hv::AccessDirection::Read));
  EXPECT_EQ(vcpu->get_registers()->rax & 0xff, 0x66U);
  io.accesses.clear();

  auto again = vm->map_memory(data);
  ASSERT_TRUE(again) << again.error().to_string();
  ASSERT_NO_FATAL_FAILURE(enter_real_mode(*vcpu, hvtest::kCodeAddress));
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  EXPECT_EQ(vcpu->get_registers()->rax & 0xff, 0x77U) << "read from remapped memory";
}

TEST_F(KvmVmTest, ReadOnlyRegionReadsFromMemoryAndWritesExit) {
  auto rom = make_region(kDataBase, 0x1000);
  rom->host()[0] = 0x5a;
  ASSERT_TRUE(vm->map_memory(rom, {.read_only = true}));
  load({POINT_DS_AT_DATA, 0xA0, 0x00, 0x00,  // mov al, [0]
        0xFE, 0xC0,                          // inc al
        0xA2, 0x00, 0x00,                    // mov [0], al
        0xF4});
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_TRUE(io.accesses[0].is(Space::Mmio, kDataBase, hv::AccessDirection::Write));
  EXPECT_EQ(io.accesses[0].data, std::vector<std::uint8_t>{0x5b}) << "the read came from memory";
  EXPECT_EQ(rom->host()[0], 0x5a) << "the write must not reach read-only memory";
}

TEST_F(KvmVmTest, DirtyLogReportsExactlyThePagesWritten) {
  auto data = make_region(kDataBase, 0x8000);
  auto slot = vm->map_memory(data, {.log_dirty = true});
  ASSERT_TRUE(slot);
  load({POINT_DS_AT_DATA, 0xC6, 0x06, 0x00, 0x30, 0x01,  // mov byte [0x3000], 1
        0xC6, 0x06, 0x08, 0x50, 0x02,                    // mov byte [0x5008], 2
        0xF4});
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  EXPECT_EQ(data->host()[0x3000], 1) << "guest writes are visible to the host";
  EXPECT_EQ(data->host()[0x5008], 2);

  auto bitmap = vm->fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(bitmap) << bitmap.error().to_string();
  EXPECT_EQ(bitmap->pages, 8U);
  EXPECT_EQ(bitmap->dirty_addresses(), (std::vector<std::uint64_t>{kDataBase + 0x3000, kDataBase + 0x5000}));
  auto cleared = vm->fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(cleared);
  EXPECT_TRUE(cleared->dirty_addresses().empty());

  ASSERT_TRUE(vm->disable_dirty_log(*slot));
  auto off = vm->fetch_and_clear_dirty_log(*slot);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().kind(), hv::ErrorKind::InvalidArgument);
  ASSERT_TRUE(vm->enable_dirty_log(*slot));
  EXPECT_TRUE(vm->fetch_and_clear_dirty_log(*slot));
}

TEST_F(KvmVmTest, BadRequestsGiveTheDocumentedErrorKinds) {
  auto huge = vm->create_vcpu(0xffffffffU);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().kind(), hv::ErrorKind::OutOfRange);
  auto duplicate = vm->create_vcpu(0);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().kind(), hv::ErrorKind::AlreadyExists);
  auto unknown = vm->unmap_memory({.id = 4242});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind(), hv::ErrorKind::NotFound);
  auto not_logging = vm->fetch_and_clear_dirty_log(ram_slot);
  ASSERT_FALSE(not_logging);
  EXPECT_EQ(not_logging.error().kind(), hv::ErrorKind::InvalidArgument);
  auto null_region = vm->map_memory(nullptr);
  ASSERT_FALSE(null_region);
  EXPECT_EQ(null_region.error().kind(), hv::ErrorKind::InvalidArgument);
  auto pit_alone = hypervisor->create_vm({.in_kernel_irqchip = false, .in_kernel_pit = true});
  ASSERT_FALSE(pit_alone);
  EXPECT_EQ(pit_alone.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST_F(KvmVmTest, SecondVcpuRunsItsOwnCode) {
  auto second = vm->create_vcpu(1);
  ASSERT_TRUE(second) << second.error().to_string();
  ASSERT_NO_FATAL_FAILURE(enter_real_mode(**second, 0x1800));
  load({0xBA, 0x34, 0x12, 0xEE, 0xF4}, 0x1800);  // mov dx, 0x1234; out dx, al; hlt
  hv::testing::RecordingIo second_io;
  auto e = (*second)->run(second_io);
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*e)) << hv::exit_name(*e);
  ASSERT_EQ(second_io.accesses.size(), 1U);
  EXPECT_TRUE(second_io.accesses[0].is(Space::Pio, 0x1234, hv::AccessDirection::Write));
  EXPECT_TRUE(io.accesses.empty()) << "vCPU 0's handler saw vCPU 1's access";
}

}  // namespace
