#include <string>

#include <gtest/gtest.h>

#include "hv/dev/device_manager.hpp"
#include "hv/dev/scratch_device.hpp"

namespace {

// Only complete_read matters to the device manager; everything else is unused here.
class AnsweringVcpu final : public hv::Vcpu {
 public:
  std::vector<std::uint8_t> answer;
  std::uint32_t id() const noexcept override { return 0; }
  hv::Result<hv::Exit> run() override { return hv::HaltExit{}; }
  hv::Result<void> complete_read(std::span<const std::uint8_t> d) override {
    answer.assign(d.begin(), d.end());
    return {};
  }
  void kick() noexcept override {}
#define UNUSED(T, name, ...) \
  hv::Result<T> name(__VA_ARGS__) override { return hv::fail(hv::ErrorKind::Unsupported, #name, "test vCPU"); }
#define UNUSED_CONST(T, name, ...) \
  hv::Result<T> name(__VA_ARGS__) const override { return hv::fail(hv::ErrorKind::Unsupported, #name, "test vCPU"); }
  UNUSED_CONST(hv::GeneralRegisters, get_registers)
  UNUSED(void, set_registers, const hv::GeneralRegisters&)
  UNUSED_CONST(hv::SpecialRegisters, get_special_registers)
  UNUSED(void, set_special_registers, const hv::SpecialRegisters&)
  UNUSED_CONST(hv::FpuState, get_fpu)
  UNUSED(void, set_fpu, const hv::FpuState&)
  UNUSED_CONST(hv::XsaveArea, get_xsave)
  UNUSED(void, set_xsave, const hv::XsaveArea&)
  UNUSED_CONST(void, get_msrs, std::span<hv::MsrEntry>)
  UNUSED(void, set_msrs, std::span<const hv::MsrEntry>)
  UNUSED(void, set_cpuid, std::span<const hv::CpuidEntry>)
  UNUSED_CONST(std::vector<hv::CpuidEntry>, get_cpuid)
  UNUSED_CONST(hv::LapicState, get_lapic)
  UNUSED(void, set_lapic, const hv::LapicState&)
#undef UNUSED
#undef UNUSED_CONST
};

TEST(DeviceManager, StringIoIsDispatchedElementByElement) {
  hv::dev::DeviceManager devices;
  auto scratch = std::make_shared<hv::dev::ScratchDevice>(4);
  ASSERT_TRUE(devices.add_pio(scratch, 0xe0, 4));
  AnsweringVcpu vcpu;
  const std::uint8_t data[] = {1, 2, 3, 4, 5, 6};  // REP OUTSW, 3 words to port 0xe0
  auto handled = devices.dispatch(
      vcpu, hv::IoExit{.port = 0xe0, .size = 2, .direction = hv::AccessDirection::Write, .count = 3, .data = data});
  ASSERT_TRUE(handled && *handled);
  std::uint8_t word[2];
  scratch->read(0, word);
  EXPECT_EQ(word[0], 5) << "the last element wins";
  std::uint8_t buffer[4] = {};
  auto read = devices.dispatch(
      vcpu, hv::IoExit{.port = 0xe0, .size = 2, .direction = hv::AccessDirection::Read, .count = 2, .data = buffer});
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(vcpu.answer, (std::vector<std::uint8_t>{5, 6, 5, 6}));
}

TEST(DeviceManager, UnclaimedReadsAreAllOnesAndCounted) {
  hv::dev::DeviceManager devices;
  AnsweringVcpu vcpu;
  std::uint8_t buffer[8] = {};
  auto r = devices.dispatch(
      vcpu, hv::MmioExit{.address = 0xfeed0000, .size = 8, .direction = hv::AccessDirection::Read, .data = buffer});
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(vcpu.answer, std::vector<std::uint8_t>(8, 0xff));
  EXPECT_EQ(devices.unclaimed_accesses(), 1U);
  auto halt = devices.dispatch(vcpu, hv::HaltExit{});
  ASSERT_TRUE(halt);
  EXPECT_FALSE(*halt) << "not an IO exit: the run loop handles it";
}

// A device that ignores reads (leaves the buffer as it found it).
class SilentDevice final : public hv::dev::BusDevice {
 public:
  void read(std::uint64_t, std::span<std::uint8_t>) override {}
  void write(std::uint64_t, std::span<const std::uint8_t>) override {}
};

TEST(DeviceManager, BytesADeviceLeavesUnwrittenReadAsOpenBus) {
  hv::dev::DeviceManager devices;
  ASSERT_TRUE(devices.add_mmio(std::make_shared<SilentDevice>(), 0x1000, 0x100));
  ASSERT_TRUE(devices.add_pio(std::make_shared<SilentDevice>(), 0x100, 4));
  AnsweringVcpu vcpu;
  std::uint8_t buffer[8] = {};
  ASSERT_TRUE(devices.dispatch(
      vcpu, hv::MmioExit{.address = 0x1000, .size = 8, .direction = hv::AccessDirection::Read, .data = buffer}));
  EXPECT_EQ(vcpu.answer, std::vector<std::uint8_t>(8, 0xff)) << "no host stack may reach the guest";
  std::uint8_t io[4] = {};
  ASSERT_TRUE(devices.dispatch(
      vcpu, hv::IoExit{.port = 0x100, .size = 4, .direction = hv::AccessDirection::Read, .count = 1, .data = io}));
  EXPECT_EQ(vcpu.answer, std::vector<std::uint8_t>(4, 0xff));
}

TEST(DeviceManager, InconsistentExitIsAnError) {
  hv::dev::DeviceManager devices;
  AnsweringVcpu vcpu;
  std::uint8_t buffer[3] = {};
  auto r = devices.dispatch(
      vcpu, hv::IoExit{.port = 1, .size = 2, .direction = hv::AccessDirection::Read, .count = 1, .data = buffer});
  EXPECT_FALSE(r);
}

TEST(DeviceManager, AnMmioDeviceOverGuestRamIsRefused) {
  // RAM below 1 MiB and a ROM at 2 MiB: the hypervisor serves both without an exit.
  const hv::RegionSpec specs[] = {{0, 0x100000}, {0x200000, 0x10000, hv::Permission::ReadOnly}};
  auto memory = hv::GuestMemory::create(specs);
  ASSERT_TRUE(memory);
  hv::dev::DeviceManager devices(*memory);
  auto scratch = std::make_shared<hv::dev::ScratchDevice>(0x1000);
  struct Case {
    std::uint64_t base, size;
    const char* what;
  };
  for (const Case& c : {Case{0x80000, 0x1000, "inside RAM"}, Case{0xff000, 0x2000, "across the end of RAM"},
                        Case{0x1ff000, 0x2000, "across the start of the ROM"}, Case{0x200000, 0x10000, "on the ROM"},
                        Case{0, 0x10000000, "around all of it"}}) {
    auto r = devices.add_mmio(scratch, c.base, c.size);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::Overlap) << c.what;
    EXPECT_NE(r.error().message().find("overlaps guest RAM"), std::string::npos) << r.error().to_string();
    std::uint8_t byte = 0;
    EXPECT_FALSE(devices.mmio().read(c.base + c.size - 1, std::span(&byte, 1))) << c.what << ": not registered";
  }
  EXPECT_TRUE(devices.add_mmio(scratch, 0x100000, 0x1000)) << "right after RAM";
  EXPECT_TRUE(devices.add_mmio(std::make_shared<hv::dev::ScratchDevice>(0x1000), 0x210000, 0x1000))
      << "right after the ROM";
  EXPECT_TRUE(devices.add_pio(std::make_shared<hv::dev::ScratchDevice>(4), 0x80, 4)) << "ports are not RAM";
  auto wraps = devices.add_mmio(scratch, ~std::uint64_t{0}, 2);
  ASSERT_FALSE(wraps);
  EXPECT_EQ(wraps.error().kind(), hv::ErrorKind::OutOfRange);
}

}  // namespace
