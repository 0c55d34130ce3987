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

}  // namespace
