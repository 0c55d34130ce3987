#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "hv/address_range.hpp"

namespace {
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

TEST(AddressRange, RejectsZeroLength) {
  auto r = hv::AddressRange::make(0x1000, 0, "test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST(AddressRange, RejectsWrapPastTopOfAddressSpace) {
  auto r = hv::AddressRange::make(kMax - 1, 3, "test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::OutOfRange);
}

TEST(AddressRange, AcceptsRangeEndingExactlyAtTop) {
  auto r = hv::AddressRange::make(kMax - 1, 2, "test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last(), kMax);
  EXPECT_TRUE(r->contains(kMax));
  EXPECT_FALSE(r->contains(kMax - 2));
}

TEST(AddressRange, OverlapIsSymmetricAndExclusiveOfNeighbours) {
  auto a = *hv::AddressRange::make(0x1000, 0x1000, "t");
  auto b = *hv::AddressRange::make(0x2000, 0x1000, "t");
  auto c = *hv::AddressRange::make(0x1fff, 2, "t");
  EXPECT_FALSE(a.overlaps(b));
  EXPECT_FALSE(b.overlaps(a));
  EXPECT_TRUE(a.overlaps(c));
  EXPECT_TRUE(c.overlaps(b));
  EXPECT_TRUE(a.contains(*hv::AddressRange::make(0x1800, 0x800, "t")));
  EXPECT_FALSE(a.contains(c));
}

TEST(AddressRange, PageAlignment) {
  EXPECT_TRUE(hv::AddressRange::make(0x3000, 0x2000, "t")->page_aligned());
  EXPECT_FALSE(hv::AddressRange::make(0x3001, 0x2000, "t")->page_aligned());
  EXPECT_FALSE(hv::AddressRange::make(0x3000, 0x2001, "t")->page_aligned());
}

}  // namespace
