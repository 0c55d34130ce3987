// The split virtqueue against a mock driver: correct traffic, every structural error a driver can
// make (each must be an error, never a hang, crash or out-of-bounds access), the four bugs fuzzing
// found in rust-vmm's virtio-queue (queue size 0, avail index running ahead, stale chains after a
// reset, chains longer than 4 GiB), and notification suppression with and without EVENT_IDX.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "hv/virtio/split_queue.hpp"
#include "chain_reuse_support.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using hv::virtio::SplitQueue;
using hv::virtio::SplitQueueConfig;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint64_t kRings = 0x10000;
constexpr std::uint64_t kIndirect = 0x40000;
constexpr std::uint64_t kData = 0x80000;
constexpr std::uint64_t kRom = 0x100000;
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirectFlag = 4;

class SplitQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x100000};
    auto memory = hv::GuestMemory::create(std::span(&spec, 1));
    ASSERT_TRUE(memory);
    memory_ = std::move(*memory);
  }
  MockSplitDriver driver(std::uint16_t size = 16, bool event_idx = false) {
    return MockSplitDriver(memory_, kRings, size, event_idx, kIndirect);
  }
  SplitQueue queue(const MockSplitDriver& d) {
    auto q = SplitQueue::create(memory_, d.config());
    EXPECT_TRUE(q) << q.error().to_string();
    return std::move(*q);
  }
  // Pops expecting a protocol error.
  void expect_broken(SplitQueue& q, const char* why) {
    auto r = q.pop(memory_);
    ASSERT_FALSE(r) << why;
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation) << why;
  }
  // A read-only region above RAM, as a VMM maps a ROM.
  void add_rom() {
    auto rom = hv::GuestRegion::create(kRom, 0x10000);
    ASSERT_TRUE(rom);
    ASSERT_TRUE(memory_.add_region(*rom, hv::Permission::ReadOnly));
  }
  // Makes all of RAM (rings included) read-only for devices: a layout change after queue setup.
  void make_ram_read_only() {
    auto ram = memory_.remove_region(0);
    ASSERT_TRUE(ram);
    ASSERT_TRUE(memory_.add_region(*ram, hv::Permission::ReadOnly));
  }
  hv::GuestMemory memory_;
};

TEST_F(SplitQueueTest, PopsChainsInOrderAndReturnsThemUsed) {
  auto d = driver();
  auto q = queue(d);
  const BufferSpec request[] = {{kData, 16, false}, {kData + 0x100, 512, false}, {kData + 0x1000, 1, true}};
  const BufferSpec second[] = {{kData + 0x2000, 64, true}};
  const auto h1 = d.add_chain(request);
  const auto h2 = d.add_chain(second);
  d.make_available(h1);
  d.make_available(h2);
  auto c1 = q.pop(memory_);
  ASSERT_TRUE(c1 && *c1);
  EXPECT_EQ((*c1)->head, h1);
  ASSERT_EQ((*c1)->buffers.size(), 3U);
  EXPECT_EQ((*c1)->buffers[1], (hv::virtio::Buffer{kData + 0x100, 512, false}));
  EXPECT_TRUE((*c1)->buffers[2].device_writable);
  EXPECT_EQ((*c1)->readable_bytes, 528U);
  EXPECT_EQ((*c1)->writable_bytes, 1U);
  auto c2 = q.pop(memory_);
  ASSERT_TRUE(c2 && *c2);
  EXPECT_EQ((*c2)->head, h2);
  auto none = q.pop(memory_);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(q.add_used(memory_, h2, 64));
  ASSERT_TRUE(q.add_used(memory_, h1, 1));
  EXPECT_EQ(d.used_index(), 2);
  EXPECT_EQ(d.used(0).id, h2);
  EXPECT_EQ(d.used(0).length, 64U);
  EXPECT_EQ(d.used(1).id, h1);
}

TEST_F(SplitQueueTest, IndirectTablesAreFollowed) {
  auto d = driver();
  auto q = queue(d);
  const BufferSpec buffers[] = {{kData, 8, false}, {kData + 8, 8, false}, {kData + 0x100, 100, true}};
  d.make_available(d.add_indirect_chain(buffers));
  auto c = q.pop(memory_);
  ASSERT_TRUE(c && *c) << (c ? "" : c.error().to_string());
  ASSERT_EQ((*c)->buffers.size(), 3U);
  EXPECT_EQ((*c)->buffers[2], (hv::virtio::Buffer{kData + 0x100, 100, true}));
}

TEST_F(SplitQueueTest, ARingSlotsCountsTheDescriptorTableEntriesAChainOccupies) {
  // What a device that holds chains (virtio-i2c's unfinished groups) counts to know whether the
  // driver still has room: each direct descriptor, and one for a whole indirect table.
  auto d = driver();
  auto q = queue(d);
  const BufferSpec three[] = {{kData, 8, false}, {kData + 8, 8, false}, {kData + 0x100, 100, true}};
  d.make_available(d.add_chain(three));
  d.make_available(d.add_indirect_chain(three));
  auto direct = q.pop(memory_);
  auto indirect = q.pop(memory_);
  ASSERT_TRUE(direct && *direct && indirect && *indirect);
  EXPECT_EQ((*direct)->ring_slots, 3);
  EXPECT_EQ((*indirect)->ring_slots, 1);
}

TEST_F(SplitQueueTest, APoppedChainDoesNotChangeWhenTheDriverRewritesItsDescriptors) {
  // TOCTOU: the device validated the chain when it popped it; what it then works from is a copy, so
  // a driver rewriting the descriptor table and the indirect table afterwards changes nothing.
  auto d = driver();
  auto q = queue(d);
  const BufferSpec direct[] = {{kData, 16, false}, {kData + 0x100, 512, false}, {kData + 0x1000, 64, true}};
  const BufferSpec indirect[] = {{kData + 0x2000, 8, false}, {kData + 0x3000, 100, true}};
  d.make_available(d.add_chain(direct));
  d.make_available(d.add_indirect_chain(indirect));
  auto first = q.pop(memory_);
  auto second = q.pop(memory_);
  ASSERT_TRUE(first && *first);
  ASSERT_TRUE(second && *second);
  // Every descriptor becomes a writable 4 GiB - 1 buffer at the end of the address space, looping.
  for (std::uint16_t i = 0; i < 16; ++i) {
    d.write_descriptor(d.config().descriptor_table, i, ~0ULL - 0x1000, 0xffffffff, kNext | kWrite, i);
    d.write_descriptor(kIndirect, i, ~0ULL - 0x1000, 0xffffffff, kNext | kWrite, i);
  }
  const auto& a = **first;
  EXPECT_EQ(a.head, 0);
  EXPECT_EQ(a.buffers, (std::vector<hv::virtio::Buffer>{
                           {kData, 16, false}, {kData + 0x100, 512, false}, {kData + 0x1000, 64, true}}));
  EXPECT_EQ(a.readable_bytes, 528U);
  EXPECT_EQ(a.writable_bytes, 64U);
  const auto& b = **second;
  EXPECT_EQ(b.head, 3);
  EXPECT_EQ(b.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x2000, 8, false}, {kData + 0x3000, 100, true}}));
  EXPECT_EQ(b.readable_bytes, 8U);
  EXPECT_EQ(b.writable_bytes, 100U);
  ASSERT_TRUE(q.add_used(memory_, a.head, 64));
  EXPECT_EQ(d.used(0).id, 0U);
}

TEST_F(SplitQueueTest, ConfigurationIsValidated) {
  auto d = driver();
  SplitQueueConfig c = d.config();
  c.size = 0;  // rust-vmm: division by zero on queue size 0
  auto zero = SplitQueue::create(memory_, c);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().kind(), hv::ErrorKind::ProtocolViolation) << "the driver wrote QueueNum";
  c.size = 24;
  EXPECT_FALSE(SplitQueue::create(memory_, c));
  c = d.config();
  c.descriptor_table += 8;
  EXPECT_FALSE(SplitQueue::create(memory_, c));
  c = d.config();
  c.used_ring += 2;
  EXPECT_FALSE(SplitQueue::create(memory_, c));
  c = d.config();
  c.available_ring = 0xfffff0;  // outside guest RAM
  EXPECT_FALSE(SplitQueue::create(memory_, c));
  c = d.config();
  c.descriptor_table = 0x100000 - 16 * 8;  // the table runs off the end of RAM
  EXPECT_FALSE(SplitQueue::create(memory_, c));
  EXPECT_TRUE(SplitQueue::create(memory_, d.config()));
}

TEST_F(SplitQueueTest, AUsedRingInReadOnlyMemoryIsRefusedTheDriverAreasMayBeThere) {
  add_rom();
  for (const bool event_idx : {false, true}) {
    auto d = driver(16, event_idx);
    SplitQueueConfig c = d.config();
    c.descriptor_table = kRom;  // the device only reads these two
    c.available_ring = kRom + 0x1000;
    auto readable = SplitQueue::create(memory_, c);
    EXPECT_TRUE(readable) << readable.error().to_string();
    c = d.config();
    c.used_ring = kRom + 0x2000;
    auto r = SplitQueue::create(memory_, c);
    ASSERT_FALSE(r) << "event_idx " << event_idx;
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::PermissionDenied) << r.error().to_string();
    EXPECT_NE(r.error().message().find("used ring"), std::string::npos) << r.error().to_string();
  }
}

TEST_F(SplitQueueTest, AUsedRingThatTurnsReadOnlyIsNeverWritten) {
  auto d = driver(8, true);  // EVENT_IDX: enable_notification writes avail_event into the used ring
  auto q = queue(d);
  const BufferSpec buffers[] = {{kData, 8, false}, {kData + 0x100, 100, true}};
  d.make_available(d.add_indirect_chain(buffers));
  make_ram_read_only();
  // Reading the rings and the indirect table still works...
  auto c = q.pop(memory_);
  ASSERT_TRUE(c && *c) << (c ? "nothing available" : c.error().to_string());
  ASSERT_EQ((*c)->buffers.size(), 2U);
  // ... returning the chain does not: an error (the device then stops), and not one byte written.
  auto used = q.add_used(memory_, (*c)->head, 100);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().kind(), hv::ErrorKind::PermissionDenied) << used.error().to_string();
  EXPECT_EQ(d.used_index(), 0);
  EXPECT_EQ(d.used(0).id, 0U);
  EXPECT_EQ(d.used(0).length, 0U);
  EXPECT_EQ(q.next_used(), 0);
  auto notify = q.enable_notification(memory_);
  ASSERT_FALSE(notify);
  EXPECT_EQ(notify.error().kind(), hv::ErrorKind::PermissionDenied);
  EXPECT_EQ(d.avail_event(), 0);
}

TEST_F(SplitQueueTest, AvailIndexRunningAheadIsAnErrorNotAHang) {
  auto d = driver(16);
  auto q = queue(d);
  d.set_avail_index(17);  // 17 entries "available" in a 16-entry ring
  expect_broken(q, "avail index more than a queue ahead");
  d.set_avail_index(0xffff);
  expect_broken(q, "avail index far ahead (wrapped)");
}

TEST_F(SplitQueueTest, NoStaleChainsAfterAReset) {
  auto d = driver(8);
  auto q = queue(d);
  const BufferSpec one[] = {{kData, 4, false}};
  for (int i = 0; i < 3; ++i) d.make_available(d.add_chain(one));
  ASSERT_TRUE(q.pop(memory_));
  // Reset: the driver re-initializes its rings, the device starts a new queue over them.
  MockSplitDriver fresh(memory_, kRings, 8, false, kIndirect);
  auto after = queue(fresh);
  auto r = after.pop(memory_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r) << "a chain from before the reset came back";
  fresh.make_available(fresh.add_chain(one));
  auto next = after.pop(memory_);
  ASSERT_TRUE(next && *next);
  EXPECT_EQ((*next)->head, 0);
}

TEST_F(SplitQueueTest, ChainsOf4GiBOrMoreAreRefused) {
  auto d = driver();
  auto q = queue(d);
  const BufferSpec huge[] = {{kData, 0x80000000U, false}, {kData, 0x80000000U, true}};  // exactly 4 GiB
  d.make_available(d.add_chain(huge));
  expect_broken(q, "4 GiB chain");
}

TEST_F(SplitQueueTest, StructuralErrorsAreRefused) {
  struct Case {
    const char* name;
    void (*build)(MockSplitDriver&);
  };
  const Case cases[] = {
      {"loop",
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, kData, 4, kNext, 1);
         d.write_descriptor(d.config().descriptor_table, 1, kData, 4, kNext, 0);
       }},
      {"self loop", [](MockSplitDriver& d) { d.write_descriptor(d.config().descriptor_table, 0, kData, 4, kNext, 0); }},
      {"next out of range",
       [](MockSplitDriver& d) { d.write_descriptor(d.config().descriptor_table, 0, kData, 4, kNext, 16); }},
      {"readable after writable",
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, kData, 4, kWrite | kNext, 1);
         d.write_descriptor(d.config().descriptor_table, 1, kData, 4, 0, 0);
       }},
      {"readable after a zero-length writable",
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, kData, 0, kWrite | kNext, 1);
         d.write_descriptor(d.config().descriptor_table, 1, kData, 4, 0, 0);
       }},
      {"address + length overflows",
       [](MockSplitDriver& d) { d.write_descriptor(d.config().descriptor_table, 0, ~0ULL - 2, 16, 0, 0); }},
      {"indirect with next",
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 16, kIndirectFlag | kNext, 1);
       }},
      {"indirect length 0",
       [](MockSplitDriver& d) { d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 0, kIndirectFlag, 0); }},
      {"indirect length not a multiple of 16",
       [](MockSplitDriver& d) { d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 24, kIndirectFlag, 0); }},
      {"indirect table over 32768 entries",  // inside RAM, zero-filled: only the entry limit refuses it
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, 0x20000, 32769 * 16, kIndirectFlag, 0);
       }},
      {"indirect table outside RAM",
       [](MockSplitDriver& d) {
         d.write_descriptor(d.config().descriptor_table, 0, 0xfffff000, 32, kIndirectFlag, 0);
       }},
      {"nested indirect",
       [](MockSplitDriver& d) {
         d.write_descriptor(kIndirect, 0, kIndirect + 0x100, 16, kIndirectFlag, 0);
         d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 16, kIndirectFlag, 0);
       }},
      {"loop inside an indirect table",
       [](MockSplitDriver& d) {
         d.write_descriptor(kIndirect, 0, kData, 4, kNext, 1);
         d.write_descriptor(kIndirect, 1, kData, 4, kNext, 0);
         d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 32, kIndirectFlag, 0);
       }},
      {"next past an indirect table's end",
       [](MockSplitDriver& d) {
         d.write_descriptor(kIndirect, 0, kData, 4, kNext, 2);
         d.write_descriptor(d.config().descriptor_table, 0, kIndirect, 32, kIndirectFlag, 0);
       }},
  };
  for (const auto& c : cases) {
    auto d = driver(16);
    auto q = queue(d);
    c.build(d);
    d.make_available(0);
    expect_broken(q, c.name);
  }
}

TEST_F(SplitQueueTest, WithEventIdxAnEmptyQueueKeepsAvailEventAtTheDevice) {
  // A Linux driver notifies only when its index passes avail_event: an empty pop() must publish it.
  auto d = driver(16, true);
  auto q = queue(d);
  const BufferSpec one[] = {{kData, 4, false}};
  for (std::uint16_t round = 1; round <= 3; ++round) {
    d.make_available(d.add_chain(one));
    auto c = q.pop(memory_);
    ASSERT_TRUE(c && *c);
    auto empty = q.pop(memory_);
    ASSERT_TRUE(empty);
    EXPECT_FALSE(*empty);
    EXPECT_EQ(d.avail_event(), round) << "avail_event must follow the device";
  }
}

TEST_F(SplitQueueTest, AddUsedChecksTheHead) {
  auto d = driver(16);
  auto q = queue(d);
  auto r = q.add_used(memory_, 16, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument) << "the device's mistake, not the driver's";
  EXPECT_EQ(d.used_index(), 0);
}

TEST_F(SplitQueueTest, NotificationSuppressionWithoutEventIdx) {
  auto d = driver(16);
  auto q = queue(d);
  auto nothing = q.should_notify(memory_);
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing) << "nothing used yet";
  ASSERT_TRUE(q.add_used(memory_, 0, 0));
  d.set_avail_flags(1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
  EXPECT_FALSE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 1, 0));
  d.set_avail_flags(0);
  EXPECT_TRUE(*q.should_notify(memory_));
  EXPECT_FALSE(*q.should_notify(memory_)) << "nothing new since the last notification";
}

TEST_F(SplitQueueTest, NotificationSuppressionWithEventIdx) {
  auto d = driver(16, true);
  auto q = queue(d);
  d.set_used_event(0);  // interrupt when used index passes 0
  ASSERT_TRUE(q.add_used(memory_, 0, 0));
  EXPECT_TRUE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 1, 0));
  EXPECT_FALSE(*q.should_notify(memory_)) << "used_event 0 was already passed";
  d.set_used_event(3);
  ASSERT_TRUE(q.add_used(memory_, 2, 0));
  EXPECT_FALSE(*q.should_notify(memory_)) << "used index 3 not yet reached";
  ASSERT_TRUE(q.add_used(memory_, 3, 0));
  ASSERT_TRUE(q.add_used(memory_, 4, 0));
  EXPECT_TRUE(*q.should_notify(memory_)) << "used index moved from 3 to 5, past used_event 3";
  // enable_notification publishes where the device is in the available ring.
  const BufferSpec one[] = {{kData, 4, false}};
  d.make_available(d.add_chain(one));
  ASSERT_TRUE(q.pop(memory_));
  ASSERT_TRUE(q.enable_notification(memory_));
  EXPECT_EQ(d.avail_event(), 1);
}

// --- Hot paths (issue 14): pop_into, the available index read once per batch, create()'s one-lookup
// fast path and its per-ring fallback, add_used through one window. ---

TEST_F(SplitQueueTest, PopIntoAReusedChainGivesWhatPopGives) {
  auto d = driver(32);     // room for all 17 descriptors below
  auto by_pop = queue(d);  // two devices reading the same rings, each from the start
  auto by_pop_into = queue(d);
  const hvtest::ReuseShapes c(kData);
  d.make_available(d.add_chain(c.one));
  d.make_available(d.add_chain(c.six));
  d.make_available(d.add_chain(c.two));
  d.make_available(d.add_indirect_chain(c.five));
  d.make_available(d.add_chain(c.one));
  d.make_available(d.add_chain(c.six));
  hvtest::expect_pop_into_matches_pop(by_pop, by_pop_into, memory_, 6);
  EXPECT_EQ(by_pop_into.next_avail(), by_pop.next_avail());
}

TEST_F(SplitQueueTest, AReusedChainHoldsExactlyTheLastChainPopped) {
  auto d = driver(16);
  auto q = queue(d);
  const hvtest::ReuseShapes c(kData);
  const BufferSpec one[] = {{kData + 0x2000, 100, true}};
  const BufferSpec indirect[] = {{kData + 0x3000, 7, false}, {kData + 0x3100, 9, false}};
  const auto h_long = d.add_chain(c.six);
  const auto h_short = d.add_chain(one);
  const auto h_indirect = d.add_indirect_chain(indirect);
  for (const auto head : {h_long, h_short, h_indirect}) d.make_available(head);
  hv::virtio::DescriptorChain chain;
  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, h_long);
  EXPECT_EQ(chain.buffers.size(), 6U);
  EXPECT_EQ(chain.readable_bytes, 96U);
  EXPECT_EQ(chain.writable_bytes, 240U);
  const hv::virtio::Buffer* storage = chain.buffers.begin();

  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, h_short);
  EXPECT_EQ(chain.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x2000, 100, true}}));
  EXPECT_EQ(chain.readable_bytes, 0U) << "the long chain's byte counts leaked into the short one";
  EXPECT_EQ(chain.writable_bytes, 100U);
  EXPECT_EQ(chain.ring_slots, 1);
  EXPECT_EQ(chain.buffers.begin(), storage) << "the reused chain let go of its storage";

  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, h_indirect);
  EXPECT_EQ(chain.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x3000, 7, false}, {kData + 0x3100, 9, false}}));
  EXPECT_EQ(chain.readable_bytes, 16U);
  EXPECT_EQ(chain.writable_bytes, 0U);
  EXPECT_EQ(chain.buffers.begin(), storage);
}

TEST_F(SplitQueueTest, TheAvailableIndexIsReadOncePerBatch) {
  auto d = driver(16);
  auto q = queue(d);
  const BufferSpec one[] = {{kData, 4, false}};
  const auto h1 = d.add_chain(one);
  const auto h2 = d.add_chain(one);
  d.make_available(h1);
  d.make_available(h2);
  auto first = q.pop(memory_);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->head, h1);
  // The index now claims 19 - 1 = 18 chains beyond the device, more than the queue holds. The device
  // does not look at it while chains from its last read (index 2) remain...
  d.set_avail_index(2 + 17);
  auto second = q.pop(memory_);
  ASSERT_TRUE(second) << "the index was read again before the batch was used up: " << second.error().to_string();
  ASSERT_TRUE(*second);
  EXPECT_EQ((*second)->head, h2);
  // ... and refuses it at the next read: 17 ahead of the device's position 2.
  expect_broken(q, "avail index more than a queue ahead at the next read");
}

TEST_F(SplitQueueTest, ChainsPublishedDuringABatchAreSeenOnceTheDeviceCatchesUp) {
  for (const bool event_idx : {false, true}) {
    auto d = driver(16, event_idx);
    auto q = queue(d);
    const BufferSpec one[] = {{kData, 4, false}};
    std::vector<std::uint16_t> heads;
    const auto publish = [&] {
      heads.push_back(d.add_chain(one));
      d.make_available(heads.back());
    };
    publish();
    publish();
    auto c = q.pop(memory_);
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->head, heads[0]);
    publish();  // while the device is inside the batch it read (index 2)
    publish();
    for (std::size_t i = 1; i < 4; ++i) {
      c = q.pop(memory_);
      ASSERT_TRUE(c && *c) << "chain " << i << ", event_idx " << event_idx;
      EXPECT_EQ((*c)->head, heads[i]);
    }
    auto none = q.pop(memory_);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    if (event_idx) {
      EXPECT_EQ(d.avail_event(), 4);
    }
    publish();  // after the device found the queue empty
    c = q.pop(memory_);
    ASSERT_TRUE(c && *c) << "event_idx " << event_idx;
    EXPECT_EQ((*c)->head, heads[4]);
    EXPECT_EQ(q.next_avail(), 5);
  }
}

TEST_F(SplitQueueTest, IndicesWrapPast65535) {
  auto d = driver(4);
  auto q = queue(d);
  const BufferSpec one[] = {{kData, 4, true}};
  hv::virtio::DescriptorChain chain;
  constexpr std::uint32_t kChains = 65536 + 70;
  for (std::uint32_t n = 0; n < kChains; ++n) {
    d.make_available(d.add_chain(one));
    if (n % 3 == 0) d.make_available(d.add_chain(one));  // sometimes two in one batch
    while (true) {
      auto taken = q.pop_into(memory_, chain);
      ASSERT_TRUE(taken) << "chain " << n << ": " << taken.error().to_string();
      if (!*taken) break;
      ASSERT_TRUE(q.add_used(memory_, chain.head, n));
    }
  }
  const std::uint32_t total = kChains + (kChains + 2) / 3;
  EXPECT_EQ(q.next_avail(), static_cast<std::uint16_t>(total));
  EXPECT_EQ(d.used_index(), static_cast<std::uint16_t>(total));
  EXPECT_EQ(d.used(static_cast<std::uint16_t>(total - 1)).length, kChains - 1);
}

TEST_F(SplitQueueTest, CreateAcceptsRingsSpreadOverSeveralRegions) {
  // RAM [0, 0x100000) as in every test, then [0x100000, 0x110000) right after it and a separate
  // [0x200000, 0x210000).
  for (const std::uint64_t base : {0x100000ULL, 0x200000ULL}) {
    auto more = hv::GuestRegion::create(base, 0x10000);
    ASSERT_TRUE(more);
    ASSERT_TRUE(memory_.add_region(*more));
  }
  auto d = driver(16);
  SplitQueueConfig c = d.config();
  c.used_ring = 0x200000;  // in a region of its own
  auto q = SplitQueue::create(memory_, c);
  ASSERT_TRUE(q) << q.error().to_string();
  const BufferSpec one[] = {{kData, 4, true}};
  d.make_available(d.add_chain(one));
  auto chain = q->pop(memory_);
  ASSERT_TRUE(chain && *chain);
  ASSERT_TRUE(q->add_used(memory_, (*chain)->head, 3));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(0x200002).value(), 1);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(0x200004).value(), (*chain)->head);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(0x200008).value(), 3U);

  // Three rings in two adjacent regions, each ring inside one of them: the span covering them all
  // crosses a region boundary, so this takes the per-ring checks.
  c.descriptor_table = 0x100000 - 16 * 16;  // ends exactly where the first region ends
  c.available_ring = 0x100000;              // starts exactly where the second begins
  c.used_ring = 0x100100;
  auto adjacent = SplitQueue::create(memory_, c);
  EXPECT_TRUE(adjacent) << adjacent.error().to_string();
  c.descriptor_table = 0x100000;  // the other way round: the used ring ends where the first region does
  c.available_ring = 0x100100;
  c.used_ring = 0x100000 - (4 + 8 * 16);
  auto reversed = SplitQueue::create(memory_, c);
  EXPECT_TRUE(reversed) << reversed.error().to_string();
}

TEST_F(SplitQueueTest, CreateRefusesARingThatStraddlesTwoAdjacentRegions) {
  auto next = hv::GuestRegion::create(0x100000, 0x10000);  // adjacent to RAM: one range, two regions
  ASSERT_TRUE(next);
  ASSERT_TRUE(memory_.add_region(*next));
  for (const bool event_idx : {false, true}) {
    const auto d = driver(16, event_idx);
    struct Case {
      const char* what;
      std::uint64_t SplitQueueConfig::*ring;
      std::uint64_t address;
    };
    const Case cases[] = {
        {"descriptor table", &SplitQueueConfig::descriptor_table, 0x100000 - 16 * 8},
        {"available ring", &SplitQueueConfig::available_ring, 0x100000 - 8},
        {"used ring", &SplitQueueConfig::used_ring, 0x100000 - 64},
        {"the used ring's avail_event", &SplitQueueConfig::used_ring, 0x100000 - 4 - 8 * 16},
    };
    for (const auto& c : cases) {
      SplitQueueConfig config = d.config();
      config.*c.ring = c.address;
      auto r = SplitQueue::create(memory_, config);
      if (!event_idx && std::string(c.what) == "the used ring's avail_event") {
        EXPECT_TRUE(r) << "without EVENT_IDX the used ring has no avail_event: " << r.error().to_string();
        continue;
      }
      ASSERT_FALSE(r) << c.what << ", event_idx " << event_idx;
      EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation) << r.error().to_string();
    }
  }
}

TEST_F(SplitQueueTest, CreateRefusesRingsWhoseEndWrapsPast2To64) {
  auto top = hv::GuestRegion::create(0xffffffffffff0000ULL, 0x10000);  // RAM up to the last byte
  for (const bool with_top_region : {false, true}) {
    if (with_top_region) {
      ASSERT_TRUE(top);
      ASSERT_TRUE(memory_.add_region(*top));
    }
    const auto d = driver(16);
    struct Case {
      const char* what;
      std::uint64_t SplitQueueConfig::*ring;
      std::uint64_t address;  // aligned as the ring requires, its end past 2^64
    };
    const Case cases[] = {
        {"descriptor table", &SplitQueueConfig::descriptor_table, 0xfffffffffffffff0ULL},
        {"available ring", &SplitQueueConfig::available_ring, 0xfffffffffffffffeULL},
        {"used ring", &SplitQueueConfig::used_ring, 0xfffffffffffffffcULL},
        {"descriptor table, 16 bytes short", &SplitQueueConfig::descriptor_table, 0xffffffffffffff10ULL},
    };
    for (const auto& c : cases) {
      SplitQueueConfig config = d.config();
      config.*c.ring = c.address;
      auto r = SplitQueue::create(memory_, config);
      ASSERT_FALSE(r) << c.what << (with_top_region ? ", RAM at the top" : "");
      EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation) << r.error().to_string();
    }
  }
  // Ending exactly at 2^64 is not wrapping: the last byte is RAM.
  const auto d = driver(16);
  SplitQueueConfig config = d.config();
  config.descriptor_table = 0 - 16ULL * 16;
  EXPECT_TRUE(SplitQueue::create(memory_, config));
  config = d.config();
  config.used_ring = 0 - (4 + 8ULL * 16);
  auto q = SplitQueue::create(memory_, config);
  ASSERT_TRUE(q) << q.error().to_string();
  ASSERT_TRUE(q->add_used(memory_, 5, 6));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(config.used_ring + 2).value(), 1);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(config.used_ring + 4).value(), 5U);
}

TEST_F(SplitQueueTest, CreateRefusesAUsedRingInReadOnlyMemoryWhereverTheOtherRingsAre) {
  add_rom();
  const auto d = driver(16);
  SplitQueueConfig c = d.config();
  c.descriptor_table = kRom;  // all three in one read-only region: one span, inside RAM, not writable
  c.available_ring = kRom + 0x1000;
  c.used_ring = kRom + 0x2000;
  auto all = SplitQueue::create(memory_, c);
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().kind(), hv::ErrorKind::PermissionDenied) << all.error().to_string();
  c.used_ring = d.config().used_ring;  // the driver areas may be read-only
  EXPECT_TRUE(SplitQueue::create(memory_, c));
}

TEST_F(SplitQueueTest, AddUsedIntoAUsedRingThatBecameReadOnlyWritesNothingAndKeepsItsPlace) {
  auto ring_region = hv::GuestRegion::create(0x200000, 0x1000);
  ASSERT_TRUE(ring_region);
  ASSERT_TRUE(memory_.add_region(*ring_region));
  auto d = driver(16);
  SplitQueueConfig c = d.config();
  c.used_ring = 0x200000;
  auto q = SplitQueue::create(memory_, c);
  ASSERT_TRUE(q) << q.error().to_string();
  // Only the used ring's region turns read-only: the window is refused, nothing else is.
  ASSERT_TRUE(memory_.remove_region(0x200000));
  ASSERT_TRUE(memory_.add_region(*ring_region, hv::Permission::ReadOnly));
  auto used = q->add_used(memory_, 3, 10);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().kind(), hv::ErrorKind::PermissionDenied) << used.error().to_string();
  EXPECT_EQ(q->next_used(), 0);
  for (const auto b : (*ring_region)->host().first(4 + 8 * 16)) ASSERT_EQ(b, 0);
  // A head out of range is the caller's mistake whatever the memory.
  auto bad = q->add_used(memory_, 16, 10);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), hv::ErrorKind::InvalidArgument) << bad.error().to_string();
  // Writable again: the element goes where the failed one would have gone.
  ASSERT_TRUE(memory_.remove_region(0x200000));
  ASSERT_TRUE(memory_.add_region(*ring_region));
  ASSERT_TRUE(q->add_used(memory_, 3, 10));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(0x200002).value(), 1);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(0x200004).value(), 3U);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(0x200008).value(), 10U);
}

TEST_F(SplitQueueTest, AddUsedRefusesAHeadOutOfRangeAndWritesNothing) {
  auto d = driver(16);
  auto q = queue(d);
  for (const std::uint16_t head : {std::uint16_t{16}, std::uint16_t{17}, std::uint16_t{0xffff}}) {
    auto r = q.add_used(memory_, head, 1);
    ASSERT_FALSE(r) << head;
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument) << r.error().to_string();
  }
  EXPECT_EQ(q.next_used(), 0);
  EXPECT_EQ(d.used_index(), 0);
  EXPECT_EQ(d.used(0).id, 0U);
  EXPECT_EQ(d.used(0).length, 0U);
  ASSERT_TRUE(q.add_used(memory_, 15, 2));  // the last valid head
  EXPECT_EQ(d.used(0).id, 15U);
}

TEST_F(SplitQueueTest, AddUsedIntoAUsedRingThatCrossesARegionBoundaryInAnotherLayoutWritesNothing) {
  // vhost-user may hand the device a new layout: here the used ring of a 512-entry queue runs across
  // two adjacent regions, which no window covers.
  auto d = driver(512);
  auto q = queue(d);
  const std::uint64_t used = d.config().used_ring;
  const std::uint64_t used_end = used + 4 + 8 * 512;
  const std::uint64_t split = (used_end - 1) & ~0xfffULL;  // a page boundary inside the used ring
  ASSERT_GT(split, used);
  const hv::RegionSpec specs[] = {{0, split}, {split, 0x100000 - split}};
  auto other = hv::GuestMemory::create(specs);
  ASSERT_TRUE(other);
  auto r = q.add_used(*other, 1, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::OutOfRange) << r.error().to_string();
  std::vector<std::uint8_t> bytes(used_end - used);
  ASSERT_TRUE(other->read(used, bytes, hv::CrossRegion::Allow));
  for (const auto b : bytes) ASSERT_EQ(b, 0);
  EXPECT_EQ(q.next_used(), 0);
  ASSERT_TRUE(q.add_used(memory_, 1, 2));
  EXPECT_EQ(d.used_index(), 1);
  EXPECT_EQ(d.used(0).id, 1U);
}

// --- The device's position (GET/SET_VRING_BASE, snapshots) and notification control (issue 15). ---

TEST_F(SplitQueueTest, AQueueRestoredFromItsStateContinuesWhereItStopped) {
  auto d = driver(8);
  auto q = queue(d);
  const BufferSpec b[] = {{kData, 8, true}};
  std::array<std::uint16_t, 3> heads{};
  for (auto& h : heads) {
    h = d.add_chain(b);
    d.make_available(h);
  }
  auto first = q.pop(memory_);
  auto second = q.pop(memory_);
  ASSERT_TRUE(first && *first && second && *second);
  ASSERT_TRUE(q.add_used(memory_, (*first)->head, 8));
  const auto state = q.state();
  EXPECT_EQ(state, (hv::virtio::SplitQueueState{2, 1}));

  auto restored = SplitQueue::restore(memory_, d.config(), state);
  ASSERT_TRUE(restored) << restored.error().to_string();
  EXPECT_EQ(restored->state(), state);
  auto third = restored->pop(memory_);
  ASSERT_TRUE(third && *third);
  EXPECT_EQ((*third)->head, heads[2]) << "the restored queue takes the entry after the last one taken";
  auto none = restored->pop(memory_);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(restored->add_used(memory_, (*second)->head, 4));
  EXPECT_EQ(d.used_index(), 2) << "the restored queue publishes after the last used entry";
  EXPECT_EQ(d.used(1).id, (*second)->head);
  EXPECT_EQ(d.used(1).length, 4U);
}

TEST_F(SplitQueueTest, ARestoredQueueIsCheckedAsACreatedOneIs) {
  auto d = driver(8);
  auto config = d.config();
  config.size = 6;  // not a power of two
  auto bad = SplitQueue::restore(memory_, config, {3, 3});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), hv::ErrorKind::ProtocolViolation);
  // A position the rings disagree with (the driver's index more than a queue ahead of it) is caught
  // by pop(), as for a queue that got there by itself.
  auto far = SplitQueue::restore(memory_, d.config(), {0x8000, 0});
  ASSERT_TRUE(far);
  d.make_available(d.add_chain(std::array<BufferSpec, 1>{{{kData, 8, true}}}));
  expect_broken(*far, "available index 1 against a restored position of 0x8000");
}

TEST_F(SplitQueueTest, DisablingNotificationSetsNoNotifyWithoutEventIdx) {
  auto d = driver(8);
  auto q = queue(d);
  ASSERT_TRUE(q.disable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().used_ring).value(), 1) << "VRING_USED_F_NO_NOTIFY";
  ASSERT_TRUE(q.enable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().used_ring).value(), 0);
}

TEST_F(SplitQueueTest, DisablingNotificationWithEventIdxLeavesTheRingsAlone) {
  auto d = driver(8, true);
  auto q = queue(d);
  ASSERT_TRUE(q.enable_notification(memory_));
  const auto flags = memory_.read_obj<std::uint16_t>(d.config().used_ring).value();
  const auto avail_event = d.avail_event();
  ASSERT_TRUE(q.disable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().used_ring).value(), flags) << "the driver ignores the flag";
  EXPECT_EQ(d.avail_event(), avail_event);
}

}  // namespace
