#include <gtest/gtest.h>

#include "hv/dev/bus.hpp"
#include "hv/dev/scratch_device.hpp"

namespace {

using hv::dev::Bus;
using hv::dev::ScratchDevice;

TEST(Bus, RejectsOverlapOverflowAndRangesPastTheLimit) {
  auto bus = Bus::pio();
  auto dev = std::make_shared<ScratchDevice>(8);
  ASSERT_TRUE(bus.insert(dev, 0x3f8, 8));
  auto overlap = bus.insert(dev, 0x3fc, 8);
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().kind(), hv::ErrorKind::Overlap);
  auto past = bus.insert(dev, 0xfffc, 8);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind(), hv::ErrorKind::OutOfRange);
  auto mmio = Bus::mmio();
  auto wraps = mmio.insert(dev, 0xfffffffffffffff8ULL, 16);
  ASSERT_FALSE(wraps);
  EXPECT_EQ(wraps.error().kind(), hv::ErrorKind::OutOfRange);
  EXPECT_FALSE(bus.insert(nullptr, 0x100, 1));
  EXPECT_FALSE(bus.insert(dev, 0x100, 0));
  ASSERT_TRUE(bus.insert(dev, 0x3f0, 8));  // exactly adjacent below is fine
}

TEST(Bus, DispatchesToTheDeviceAtTheRightOffset) {
  auto bus = Bus::mmio();
  auto a = std::make_shared<ScratchDevice>(0x1000);
  auto b = std::make_shared<ScratchDevice>(0x1000);
  ASSERT_TRUE(bus.insert(a, 0xd0000000, 0x1000));
  ASSERT_TRUE(bus.insert(b, 0xd0001000, 0x1000));
  const std::uint8_t v[] = {1, 2, 3, 4};
  EXPECT_TRUE(bus.write(0xd0001010, v));
  std::uint8_t out[4] = {};
  b->read(0x10, out);
  EXPECT_EQ(out[3], 4);
  std::uint8_t through_bus[4] = {};
  EXPECT_TRUE(bus.read(0xd0001010, through_bus));
  EXPECT_EQ(through_bus[0], 1);
  a->read(0x10, out);
  EXPECT_EQ(out[0], 0) << "the neighbouring device was not touched";
}

TEST(Bus, AccessesNotInsideOneDeviceAreUnclaimed) {
  auto bus = Bus::mmio();
  auto a = std::make_shared<ScratchDevice>(0x1000);
  auto b = std::make_shared<ScratchDevice>(0x1000);
  ASSERT_TRUE(bus.insert(a, 0x1000, 0x1000));
  ASSERT_TRUE(bus.insert(b, 0x2000, 0x1000));
  const std::uint8_t v[] = {9, 9, 9, 9};
  EXPECT_FALSE(bus.write(0x1ffe, v)) << "straddles two devices";
  EXPECT_FALSE(bus.write(0x0ffe, v)) << "starts before the first device";
  EXPECT_FALSE(bus.write(0xffffffffffffffffULL, std::span(v, 1)));
  std::uint8_t out[4] = {};
  EXPECT_FALSE(bus.read(0x2ffd, out));
  EXPECT_EQ(out[0], 0xff) << "unclaimed reads are all-ones";
  std::uint8_t check[2] = {};
  a->read(0xffe, check);
  EXPECT_EQ(check[0], 0) << "a straddling write must not land half";
  EXPECT_FALSE(bus.read(0x1000, std::span<std::uint8_t>())) << "zero-length";
}

TEST(Bus, RemoveNeedsTheExactBase) {
  auto bus = Bus::pio();
  auto dev = std::make_shared<ScratchDevice>(4);
  ASSERT_TRUE(bus.insert(dev, 0xe0, 4));
  EXPECT_FALSE(bus.remove(0xe1));
  EXPECT_TRUE(bus.remove(0xe0));
  std::uint8_t out[1];
  EXPECT_FALSE(bus.read(0xe0, out));
}

}  // namespace
