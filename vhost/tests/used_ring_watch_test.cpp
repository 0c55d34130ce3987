// UsedRingWatch (vhost/src/used_ring_watch.hpp): what the VMM's call thread checks of a split ring a
// vhost-user backend wrote. A ring is laid out by hand in guest memory: the driver's available index,
// the backend's used index and elements.
#include "used_ring_watch.hpp"

#include <gtest/gtest.h>

#include <span>

namespace {

using hv::vhost::UsedRingWatch;

constexpr std::uint16_t kSize = 8;
constexpr std::uint64_t kDescriptors = 0x1000, kAvailable = 0x2000, kUsed = 0x3000;

class UsedRingWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x10000};
    auto memory = hv::GuestMemory::create(std::span(&spec, 1));
    ASSERT_TRUE(memory);
    memory_ = std::move(*memory);
  }
  static hv::virtio::SplitQueueConfig config() { return {kSize, kDescriptors, kAvailable, kUsed, false}; }
  void available(std::uint16_t index) {
    ASSERT_TRUE(memory_.store<std::uint16_t>(kAvailable + 2, index, std::memory_order_relaxed));
  }
  // The backend publishes `id` at used position `position` and moves the used index to position + 1.
  void use(std::uint16_t position, std::uint32_t id, std::uint32_t len = 1) {
    const std::uint64_t slot = kUsed + 4 + 8ULL * (position % kSize);
    ASSERT_TRUE(memory_.store<std::uint32_t>(slot, id, std::memory_order_relaxed));
    ASSERT_TRUE(memory_.store<std::uint32_t>(slot + 4, len, std::memory_order_relaxed));
    used_index(static_cast<std::uint16_t>(position + 1));
  }
  void used_index(std::uint16_t index) {
    ASSERT_TRUE(memory_.store<std::uint16_t>(kUsed + 2, index, std::memory_order_release));
  }
  static void expect_broken(const hv::Result<void>& r, const char* what) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation);
    EXPECT_NE(r.error().to_string().find(what), std::string::npos) << r.error().to_string();
  }
  hv::GuestMemory memory_;
};

TEST_F(UsedRingWatchTest, AWellBehavedBackendPassesAcrossTheIndexWrap) {
  // From 65530, 16 requests (two rings' worth): each used once the driver made it available.
  UsedRingWatch watch(config(), 65530);
  std::uint16_t position = 65530;
  for (int i = 0; i < 16; ++i, ++position) {
    available(static_cast<std::uint16_t>(position + 1));
    use(position, static_cast<std::uint32_t>(i % kSize));
    ASSERT_TRUE(watch.check(memory_)) << i;
  }
  // Calls suppressed for a while: more than a ring published between two checks, slots reused.
  for (int i = 0; i < 3 * kSize; ++i, ++position) {
    available(static_cast<std::uint16_t>(position + 1));
    use(position, kSize - 1);
  }
  EXPECT_TRUE(watch.check(memory_));
  EXPECT_TRUE(watch.check(memory_));  // nothing new: nothing to say
}

TEST_F(UsedRingWatchTest, AUsedLengthIsNotChecked) {
  UsedRingWatch watch(config(), 0);
  available(1);
  use(0, 0, 0xffffffffU);
  EXPECT_TRUE(watch.check(memory_));
}

TEST_F(UsedRingWatchTest, AnElementNamingADescriptorPastTheRingIsBroken) {
  UsedRingWatch watch(config(), 0);
  available(2);
  use(0, 0);
  ASSERT_TRUE(watch.check(memory_));
  use(1, kSize);
  expect_broken(watch.check(memory_), "used element 1 names descriptor 8, past the ring of 8");
}

TEST_F(UsedRingWatchTest, OnlyElementsPublishedSinceTheLastCheckAreRead) {
  // A stale bad id in a slot the backend has not published into yet is not the backend's answer.
  ASSERT_TRUE(memory_.store<std::uint32_t>(kUsed + 4 + 8, 0xdead, std::memory_order_relaxed));
  UsedRingWatch watch(config(), 0);
  available(1);
  use(0, 3);
  EXPECT_TRUE(watch.check(memory_));
}

TEST_F(UsedRingWatchTest, AUsedIndexAheadOfTheAvailableIndexIsBroken) {
  UsedRingWatch watch(config(), 100);
  available(101);
  use(100, 0);
  ASSERT_TRUE(watch.check(memory_));
  used_index(101 + kSize + 1);  // a jump of more than the queue size from a settled ring
  expect_broken(watch.check(memory_), "used index 110, 9 past the available index 101");
}

TEST_F(UsedRingWatchTest, AheadIsJudgedAcrossTheWrapToo) {
  UsedRingWatch watch(config(), 65535);
  available(65535);
  used_index(3);  // 4 past 65535
  expect_broken(watch.check(memory_), "4 past the available index 65535");
}

}  // namespace
