// The in-flight record (INFLIGHT_SHMFD, split rings): a backend that dies with chains taken and not
// returned is restarted over the same record and completes exactly those, oldest first, then goes on
// with new ones; a record a hostile frontend (or a half-finished write) corrupted is refused.
#include <gtest/gtest.h>

#include <array>

#include "hv/vhost/inflight.hpp"
#include "hv/virtio/queue.hpp"
#include "hv/virtio/testing/mock_packed_driver.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace hv::vhost {
namespace {

using virtio::DescriptorChain;
using virtio::Queue;
using virtio::SplitQueue;
using virtio::testing::BufferSpec;
using virtio::testing::MockSplitDriver;

constexpr std::uint16_t kRing = 8;
constexpr std::uint64_t kRingBase = 0x1000;
constexpr std::uint64_t kData = 0x8000;

class InflightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::array<RegionSpec, 1> spec{RegionSpec{0, 0x10000}};
    auto m = GuestMemory::create(spec);
    ASSERT_TRUE(m);
    memory_ = std::move(*m);
    auto r = InflightRegion::create(2, kRing);
    ASSERT_TRUE(r) << r.error().to_string();
    region_ = *r;
  }
  // A chain of one writable buffer, made available.
  std::uint16_t submit(MockSplitDriver& driver, std::uint16_t n) {
    const std::array<BufferSpec, 1> b{BufferSpec{kData + 0x100ULL * n, 16, true}};
    const std::uint16_t head = driver.add_chain(b);
    driver.make_available(head);
    return head;
  }
  // The device's queue after a (re)start: restored where the record says, with its log.
  Queue start(MockSplitDriver& driver, std::shared_ptr<QueueInflight>& log) {
    auto l = region_->queue(0, kRing, driver.used_index());
    EXPECT_TRUE(l) << l.error().to_string();
    log = *l;
    auto q = SplitQueue::restore(memory_, driver.config(), {log->next_avail(), driver.used_index()});
    EXPECT_TRUE(q);
    Queue queue(*q);
    EXPECT_TRUE(queue.track_inflight(log));
    return queue;
  }
  GuestMemory memory_;
  std::shared_ptr<InflightRegion> region_;
};

TEST_F(InflightTest, LayoutIsLibvhostUsers) {
  EXPECT_EQ(inflight_queue_bytes(8), 192U);  // 16 + 8 * 16 = 144, aligned to 64
  EXPECT_EQ(inflight_queue_bytes(128), 2112U);
  EXPECT_EQ(inflight_queue_bytes(256), 4160U);
  EXPECT_EQ(region_->description().mmap_size, 2 * 192U);
  EXPECT_EQ(region_->description().num_queues, 2U);
  EXPECT_EQ(region_->description().queue_size, kRing);
  EXPECT_GE(region_->fd(), 0);
}

TEST_F(InflightTest, FreshRecordReplaysNothing) {
  MockSplitDriver driver(memory_, kRingBase, kRing);
  std::shared_ptr<QueueInflight> log;
  Queue queue = start(driver, log);
  EXPECT_EQ(log->next_avail(), 0U);
  EXPECT_EQ(log->replay_count(), 0U);
  DescriptorChain chain;
  auto taken = queue.pop_into(memory_, chain);
  ASSERT_TRUE(taken);
  EXPECT_FALSE(*taken);
}

TEST_F(InflightTest, RestartCompletesExactlyWhatWasInFlightOldestFirst) {
  MockSplitDriver driver(memory_, kRingBase, kRing);
  std::array<std::uint16_t, 4> heads{};
  for (std::uint16_t i = 0; i < 4; ++i) heads.at(i) = submit(driver, i);
  {
    std::shared_ptr<QueueInflight> log;
    Queue queue = start(driver, log);
    DescriptorChain a, b, c;
    ASSERT_TRUE(*queue.pop_into(memory_, a));
    ASSERT_TRUE(*queue.pop_into(memory_, b));
    ASSERT_TRUE(*queue.pop_into(memory_, c));
    ASSERT_TRUE(queue.add_used(memory_, a, 16));  // the first one completes
    // ... and the process dies with b and c in flight (d was never taken).
  }
  ASSERT_EQ(driver.used_index(), 1U);
  std::shared_ptr<QueueInflight> log;
  Queue queue = start(driver, log);
  EXPECT_EQ(log->replay_count(), 2U);
  EXPECT_EQ(log->next_avail(), 3U) << "b and c were taken from the ring: do not take them again";
  std::vector<std::uint16_t> order;
  DescriptorChain chain;
  for (;;) {
    auto taken = queue.pop_into(memory_, chain);
    ASSERT_TRUE(taken) << taken.error().to_string();
    if (!*taken) break;
    order.push_back(chain.head);
    ASSERT_TRUE(queue.add_used(memory_, chain, 16));
  }
  EXPECT_EQ(order, (std::vector<std::uint16_t>{heads[1], heads[2], heads[3]})) << "b, c replayed, then d";
  EXPECT_EQ(driver.used_index(), 4U) << "each request completed once";
  for (std::uint16_t i = 0; i < 4; ++i) EXPECT_EQ(driver.used(i).id, heads.at(i));
  // A third start finds nothing left.
  std::shared_ptr<QueueInflight> again;
  (void)start(driver, again);
  EXPECT_EQ(again->replay_count(), 0U);
  EXPECT_EQ(again->next_avail(), 4U);
}

TEST_F(InflightTest, DeathAfterPublishingTheUsedIndexDoesNotCompleteTwice) {
  MockSplitDriver driver(memory_, kRingBase, kRing);
  const std::uint16_t head = submit(driver, 0);
  {
    std::shared_ptr<QueueInflight> log;
    Queue queue = start(driver, log);
    DescriptorChain chain;
    ASSERT_TRUE(*queue.pop_into(memory_, chain));
    // The used entry and index reach the ring, and the process dies before it clears its record:
    // add_used on the bare split queue, bypassing the log's completed().
    log->completing(chain.head);
    auto bare = SplitQueue::restore(memory_, driver.config(), {1, 0});
    ASSERT_TRUE(bare);
    ASSERT_TRUE(bare->add_used(memory_, head, 16));
  }
  std::shared_ptr<QueueInflight> log;
  Queue queue = start(driver, log);
  EXPECT_EQ(log->replay_count(), 0U) << "the driver has its completion: replaying would complete it twice";
  EXPECT_EQ(log->next_avail(), 1U);
}

TEST_F(InflightTest, CorruptRecordsAreRefused) {
  // A flag that is neither 0 nor 1.
  auto mapping = GuestRegion::create(0, 4096, Backing::Memfd);
  ASSERT_TRUE(mapping);
  Inflight d{192, 0, 1, kRing, {}};
  auto adopted = InflightRegion::adopt(*mapping, d);
  ASSERT_TRUE(adopted);
  auto bytes = (*mapping)->host();
  bytes[8] = 1;            // version 1
  bytes[10] = kRing;       // desc_num
  bytes[16 + 16 * 3] = 7;  // entry 3's flag
  auto bad_flag = (*adopted)->queue(0, kRing, 0);
  ASSERT_FALSE(bad_flag);
  EXPECT_EQ(bad_flag.error().kind(), ErrorKind::ProtocolViolation);
  bytes[16 + 16 * 3] = 0;
  EXPECT_TRUE((*adopted)->queue(0, kRing, 0));
  bytes[10] = 4;  // kept for a ring of 4
  EXPECT_FALSE((*adopted)->queue(0, kRing, 0));
  bytes[10] = kRing;
  EXPECT_FALSE((*adopted)->queue(0, kRing, 5)) << "the ring's used index is 5 ahead of the record's";
  bytes[8] = 9;
  EXPECT_FALSE((*adopted)->queue(0, kRing, 0)) << "unknown version";
  EXPECT_FALSE((*adopted)->queue(1, kRing, 0)) << "no record for queue 1";
  EXPECT_FALSE((*adopted)->queue(0, 16, 0)) << "a ring larger than the record";
}

TEST_F(InflightTest, DescriptionsThatDoNotFitAreRefused) {
  auto mapping = GuestRegion::create(0, 4096, Backing::Memfd);
  ASSERT_TRUE(mapping);
  EXPECT_FALSE(InflightRegion::adopt(*mapping, Inflight{100, 0, 1, kRing, {}})) << "mmap_size below one record";
  EXPECT_FALSE(InflightRegion::adopt(*mapping, Inflight{1 << 20, 0, 64, 256, {}})) << "larger than the mapping";
  EXPECT_FALSE(InflightRegion::adopt(*mapping, Inflight{4096, 0, 0, kRing, {}})) << "no queues";
  EXPECT_FALSE(InflightRegion::adopt(*mapping, Inflight{4096, 0, 1, 0, {}})) << "empty rings";
  EXPECT_FALSE(InflightRegion::adopt(nullptr, Inflight{4096, 0, 1, kRing, {}}));
  EXPECT_FALSE(InflightRegion::create(0, kRing));
  EXPECT_FALSE(InflightRegion::create(1, 0));
  EXPECT_FALSE(InflightRegion::create(1, 40000));
}

TEST_F(InflightTest, PackedQueuesKeepNoRecord) {
  virtio::testing::MockPackedDriver driver(memory_, kRingBase, kRing);
  auto packed = virtio::PackedQueue::create(memory_, driver.config());
  ASSERT_TRUE(packed);
  Queue queue(*packed);
  auto log = region_->queue(0, kRing, 0);
  ASSERT_TRUE(log);
  auto r = queue.track_inflight(*log);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Unsupported);
}

}  // namespace
}  // namespace hv::vhost
