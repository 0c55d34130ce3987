#include <string>

#include <gtest/gtest.h>

#include <array>

#include "hv/dev/device_manager.hpp"
#include "hv/dev/scratch_device.hpp"

namespace {

// The DeviceManager is the IoHandler a vCPU's run() calls, once per access (per element of a string
// instruction); these drive it as a backend would, with reads pre-filled with 0xff.

TEST(DeviceManager, EachAccessReachesTheDeviceThatClaimsIt) {
  hv::dev::DeviceManager devices;
  auto scratch = std::make_shared<hv::dev::ScratchDevice>(4);
  ASSERT_TRUE(devices.add_pio(scratch, 0xe0, 4));
  // REP OUTSW, 3 words to port 0xe0: three calls.
  for (const std::array<std::uint8_t, 2> word : {std::array<std::uint8_t, 2>{1, 2}, {3, 4}, {5, 6}}) {
    devices.pio_write(0xe0, word);
  }
  std::array<std::uint8_t, 2> word{};
  scratch->read(0, word);
  EXPECT_EQ(word[0], 5) << "the last element wins";
  std::array<std::uint8_t, 2> read{0xff, 0xff};
  devices.pio_read(0xe0, read);
  EXPECT_EQ(read, (std::array<std::uint8_t, 2>{5, 6}));
  EXPECT_EQ(devices.unclaimed_accesses(), 0U);
}

TEST(DeviceManager, UnclaimedReadsAreAllOnesAndCounted) {
  hv::dev::DeviceManager devices;
  std::array<std::uint8_t, 8> buffer{};
  buffer.fill(0x11);  // even if a backend had not pre-filled it, the bus answers all-ones
  devices.mmio_read(0xfeed0000, buffer);
  EXPECT_EQ(buffer, (std::array<std::uint8_t, 8>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  devices.mmio_write(0xfeed0000, buffer);
  devices.pio_write(0x1234, std::span(buffer).first(1));
  EXPECT_EQ(devices.unclaimed_accesses(), 3U);
}

TEST(DeviceManager, AnMmioDeviceOverGuestRamIsRefused) {
  // RAM below 1 MiB and a ROM at 2 MiB: the hypervisor serves both without an exit.
  const hv::RegionSpec specs[] = {{0, 0x100000}, {0x200000, 0x10000, hv::Permission::ReadOnly}};
  auto memory = hv::GuestMemory::create(specs);
  ASSERT_TRUE(memory);
  hv::dev::DeviceManager devices(std::make_shared<const hv::GuestMemory>(std::move(*memory)));
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
