// The packed virtqueue against a mock driver: traffic across several wraps of the ring, indirect
// lists, every structural error a driver can make, no stale lists after a reset, and notification
// suppression (ENABLE, DISABLE, DESC with RING_EVENT_IDX across a wrap).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hv/virtio/packed_queue.hpp"
#include "chain_reuse_support.hpp"
#include "hv/virtio/testing/mock_packed_driver.hpp"

namespace {

using hv::virtio::PackedQueue;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockPackedDriver;

constexpr std::uint64_t kRing = 0x10000, kIndirect = 0x40000, kData = 0x80000, kRom = 0x100000;
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirectFlag = 4, kAvail = 1U << 7, kUsed = 1U << 15;

class PackedQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x100000};
    auto memory = hv::GuestMemory::create(std::span(&spec, 1));
    ASSERT_TRUE(memory);
    memory_ = std::move(*memory);
  }
  MockPackedDriver driver(std::uint16_t size = 8, bool event_idx = false) {
    return MockPackedDriver(memory_, kRing, size, event_idx, kIndirect);
  }
  PackedQueue queue(const MockPackedDriver& d) {
    auto q = PackedQueue::create(memory_, d.config());
    EXPECT_TRUE(q) << q.error().to_string();
    return std::move(*q);
  }
  void expect_broken(PackedQueue& q, const char* why) {
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
  // Makes all of RAM (the ring included) read-only for devices: a layout change after queue setup.
  void make_ram_read_only() {
    auto ram = memory_.remove_region(0);
    ASSERT_TRUE(ram);
    ASSERT_TRUE(memory_.add_region(*ram, hv::Permission::ReadOnly));
  }
  hv::GuestMemory memory_;
};

TEST_F(PackedQueueTest, ListsAcrossSeveralWrapsOfTheRing) {
  auto d = driver(5);  // not a power of two: allowed for packed rings
  auto q = queue(d);
  const BufferSpec list[] = {{kData, 16, false}, {kData + 0x100, 32, true}};
  for (std::uint16_t round = 0; round < 12; ++round) {  // 24 slots through a 5-slot ring
    const std::uint16_t head = d.add_chain(list, static_cast<std::uint16_t>(100 + round));
    auto c = q.pop(memory_);
    ASSERT_TRUE(c && *c) << "round " << round << ": " << (c ? "nothing available" : c.error().to_string());
    EXPECT_EQ((*c)->head, 100 + round);
    EXPECT_EQ((*c)->ring_slots, 2);
    ASSERT_EQ((*c)->buffers.size(), 2U);
    EXPECT_TRUE((*c)->buffers[1].device_writable);
    auto none = q.pop(memory_);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    ASSERT_TRUE(q.add_used(memory_, (*c)->head, 7, (*c)->ring_slots));
    const auto used = d.descriptor(head);
    EXPECT_EQ(used.id, 100 + round);
    EXPECT_EQ(used.length, 7U);
    const bool wrap_bit = (used.flags & kUsed) != 0;
    EXPECT_EQ((used.flags & kAvail) != 0, wrap_bit) << "a used descriptor has AVAIL == USED";
    EXPECT_TRUE(used.flags & kWrite);
  }
}

TEST_F(PackedQueueTest, IndirectListsAreFollowed) {
  auto d = driver();
  auto q = queue(d);
  const BufferSpec buffers[] = {{kData, 8, false}, {kData + 8, 8, false}, {kData + 0x100, 64, true}};
  d.add_indirect_chain(buffers, 9);
  auto c = q.pop(memory_);
  ASSERT_TRUE(c && *c) << (c ? "" : c.error().to_string());
  EXPECT_EQ((*c)->head, 9);
  EXPECT_EQ((*c)->ring_slots, 1);
  ASSERT_EQ((*c)->buffers.size(), 3U);
  EXPECT_EQ((*c)->writable_bytes, 64U);
}

TEST_F(PackedQueueTest, APoppedListDoesNotChangeWhenTheDriverRewritesItsDescriptors) {
  // TOCTOU, as for split rings: the popped list is a copy, whatever the driver writes afterwards
  // into the descriptor ring and the indirect table.
  auto d = driver(8);
  auto q = queue(d);
  const BufferSpec list[] = {{kData, 16, false}, {kData + 0x100, 64, true}};
  const BufferSpec indirect[] = {{kData + 0x2000, 8, false}, {kData + 0x3000, 100, true}};
  d.add_chain(list, 7);
  d.add_indirect_chain(indirect, 9);
  auto first = q.pop(memory_);
  auto second = q.pop(memory_);
  ASSERT_TRUE(first && *first);
  ASSERT_TRUE(second && *second);
  for (std::uint16_t slot = 0; slot < 8; ++slot) {
    d.write_descriptor(slot, ~0ULL - 0x1000, 0xffffffff, 0xffff, kNext | kWrite | kAvail);
  }
  std::vector<std::uint8_t> junk(0x100, 0xa5);
  ASSERT_TRUE(memory_.write(kIndirect, junk));
  const auto& a = **first;
  EXPECT_EQ(a.head, 7);
  EXPECT_EQ(a.ring_slots, 2);
  EXPECT_EQ(a.buffers, (std::vector<hv::virtio::Buffer>{{kData, 16, false}, {kData + 0x100, 64, true}}));
  EXPECT_EQ(a.readable_bytes, 16U);
  EXPECT_EQ(a.writable_bytes, 64U);
  const auto& b = **second;
  EXPECT_EQ(b.head, 9);
  EXPECT_EQ(b.ring_slots, 1);
  EXPECT_EQ(b.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x2000, 8, false}, {kData + 0x3000, 100, true}}));
  EXPECT_EQ(b.writable_bytes, 100U);
}

TEST_F(PackedQueueTest, ConfigurationIsValidated) {
  auto d = driver();
  auto c = d.config();
  c.size = 0;
  auto zero = PackedQueue::create(memory_, c);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().kind(), hv::ErrorKind::ProtocolViolation) << "the driver wrote QueueNum";
  c = d.config();
  c.descriptor_ring += 8;
  EXPECT_FALSE(PackedQueue::create(memory_, c));
  c = d.config();
  c.driver_event += 2;
  EXPECT_FALSE(PackedQueue::create(memory_, c));
  c = d.config();
  c.device_event = 0x200000;
  EXPECT_FALSE(PackedQueue::create(memory_, c));
}

TEST_F(PackedQueueTest, WhatTheDeviceWritesMayNotBeInReadOnlyMemory) {
  add_rom();
  auto d = driver();
  auto c = d.config();
  c.driver_event = kRom;  // the device only reads the driver's event suppression structure
  auto readable = PackedQueue::create(memory_, c);
  EXPECT_TRUE(readable) << readable.error().to_string();
  for (const auto rom_ring : {true, false}) {
    c = d.config();
    (rom_ring ? c.descriptor_ring : c.device_event) = kRom + 0x1000;
    auto r = PackedQueue::create(memory_, c);
    ASSERT_FALSE(r) << (rom_ring ? "descriptor ring" : "device event suppression") << " in read-only memory";
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::PermissionDenied) << r.error().to_string();
  }
}

TEST_F(PackedQueueTest, AUsedDescriptorIsNeverWrittenIntoReadOnlyMemory) {
  auto d = driver(8, true);
  auto q = queue(d);
  const BufferSpec buffers[] = {{kData, 8, false}, {kData + 0x100, 64, true}};
  const std::uint16_t slot = d.add_indirect_chain(buffers, 5);
  const auto before = d.descriptor(slot);
  make_ram_read_only();
  // Reading the ring and the indirect table still works...
  auto c = q.pop(memory_);
  ASSERT_TRUE(c && *c) << (c ? "nothing available" : c.error().to_string());
  EXPECT_EQ((*c)->head, 5);
  // ... marking the list used does not: an error (the device then stops), the slot untouched.
  auto used = q.add_used(memory_, (*c)->head, 64, (*c)->ring_slots);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().kind(), hv::ErrorKind::PermissionDenied) << used.error().to_string();
  const auto after = d.descriptor(slot);
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.length, before.length);
  EXPECT_EQ(after.flags, before.flags);
  const auto device_event = memory_.read_obj<std::uint32_t>(d.config().device_event);
  ASSERT_TRUE(device_event);
  auto notify = q.enable_notification(memory_);
  ASSERT_FALSE(notify);
  EXPECT_EQ(notify.error().kind(), hv::ErrorKind::PermissionDenied);
  EXPECT_EQ(memory_.read_obj<std::uint32_t>(d.config().device_event).value(), *device_event);
}

TEST_F(PackedQueueTest, StructuralErrorsAreRefused) {
  struct Case {
    const char* name;
    void (*build)(MockPackedDriver&);
  };
  const Case cases[] = {
      {"list longer than the queue (NEXT everywhere)",
       [](MockPackedDriver& d) {
         for (std::uint16_t i = 0; i < 8; ++i) d.write_descriptor(i, kData, 4, 0, d.avail_flags() | kNext);
       }},
      {"a list member that is not available",
       [](MockPackedDriver& d) {
         d.write_descriptor(1, kData, 4, 0, 0);  // zero flags: not available in the first wrap
         d.write_descriptor(0, kData, 4, 0, d.avail_flags() | kNext);
       }},
      {"readable after writable",
       [](MockPackedDriver& d) {
         d.write_descriptor(1, kData, 4, 0, d.avail_flags());
         d.write_descriptor(0, kData, 0, 0, d.avail_flags() | kWrite | kNext);
       }},
      {"address + length overflows",
       [](MockPackedDriver& d) { d.write_descriptor(0, ~0ULL - 2, 16, 0, d.avail_flags()); }},
      {"4 GiB",
       [](MockPackedDriver& d) {
         d.write_descriptor(1, kData, 0x80000000U, 0, d.avail_flags());
         d.write_descriptor(0, kData, 0x80000000U, 0, d.avail_flags() | kNext);
       }},
      {"indirect with next",
       [](MockPackedDriver& d) { d.write_descriptor(0, kIndirect, 16, 0, d.avail_flags() | kIndirectFlag | kNext); }},
      {"indirect inside a list",
       [](MockPackedDriver& d) {
         d.write_descriptor(1, kIndirect, 16, 0, d.avail_flags() | kIndirectFlag);
         d.write_descriptor(0, kData, 4, 0, d.avail_flags() | kNext);
       }},
      {"indirect length 0",
       [](MockPackedDriver& d) { d.write_descriptor(0, kIndirect, 0, 0, d.avail_flags() | kIndirectFlag); }},
      {"indirect length 24",
       [](MockPackedDriver& d) { d.write_descriptor(0, kIndirect, 24, 0, d.avail_flags() | kIndirectFlag); }},
      {"indirect table outside RAM",
       [](MockPackedDriver& d) { d.write_descriptor(0, 0xfffff000, 32, 0, d.avail_flags() | kIndirectFlag); }},
  };
  for (const auto& c : cases) {
    auto d = driver(8);
    auto q = queue(d);
    c.build(d);
    expect_broken(q, c.name);
  }
}

TEST_F(PackedQueueTest, NoStaleListsAfterAReset) {
  auto d = driver(8);
  auto q = queue(d);
  const BufferSpec one[] = {{kData, 4, false}};
  d.add_chain(one, 1);
  d.add_chain(one, 2);
  ASSERT_TRUE(q.pop(memory_));
  MockPackedDriver fresh(memory_, kRing, 8, false, kIndirect);  // the driver zeroes its ring again
  auto after = queue(fresh);
  auto r = after.pop(memory_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r) << "a list from before the reset came back";
}

TEST_F(PackedQueueTest, NotificationSuppression) {
  auto d = driver(4, true);
  auto q = queue(d);
  EXPECT_FALSE(*q.should_notify(memory_)) << "nothing used yet";
  ASSERT_TRUE(q.add_used(memory_, 0, 0, 1));
  d.set_driver_event(0, 1);  // DISABLE
  EXPECT_FALSE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 1, 0, 1));
  d.set_driver_event(0, 0);  // ENABLE
  EXPECT_TRUE(*q.should_notify(memory_));
  // DESC: notify once the descriptor at offset 1 of the next wrap (wrap counter 0) is used.
  d.set_driver_event(1 | 0x0000, 2);
  ASSERT_TRUE(q.add_used(memory_, 2, 0, 1));  // slot 2
  EXPECT_FALSE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 3, 0, 1));  // slot 3, then the ring wraps
  EXPECT_FALSE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 4, 0, 1));  // slot 0 of wrap 0
  EXPECT_FALSE(*q.should_notify(memory_));
  ASSERT_TRUE(q.add_used(memory_, 5, 0, 1));  // slot 1 of wrap 0: the event
  EXPECT_TRUE(*q.should_notify(memory_));
  // enable_notification publishes the next descriptor the device expects, with its wrap counter.
  ASSERT_TRUE(q.enable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().device_event).value(), 0x8000);  // slot 0, wrap 1
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().device_event + 2).value(), 2);
}

TEST_F(PackedQueueTest, AddUsedChecksTheSlotCount) {
  auto d = driver(8);
  auto q = queue(d);
  auto none = q.add_used(memory_, 0, 0, 0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), hv::ErrorKind::InvalidArgument) << "the device's mistake, not the driver's";
  EXPECT_FALSE(q.add_used(memory_, 0, 0, 9));
}

// --- pop_into (issue 14): a reused chain gets what pop() returns, and only that. ---

TEST_F(PackedQueueTest, PopIntoAReusedChainGivesWhatPopGives) {
  auto d = driver(16);
  auto by_pop = queue(d);  // two devices reading the same ring, each from the start
  auto by_pop_into = queue(d);
  const hvtest::ReuseShapes c(kData);
  d.add_chain(c.six, 10);  // 13 of the 16 slots
  d.add_chain(c.one, 11);
  d.add_chain(c.two, 12);
  d.add_indirect_chain(c.five, 13);
  d.add_chain(c.one, 14);
  d.add_chain(c.two, 15);
  hvtest::expect_pop_into_matches_pop(by_pop, by_pop_into, memory_, 6);
}

TEST_F(PackedQueueTest, AReusedChainHoldsExactlyTheLastListPopped) {
  auto d = driver(16);
  auto q = queue(d);
  const hvtest::ReuseShapes c(kData);
  const BufferSpec one[] = {{kData + 0x2000, 100, true}};
  const BufferSpec indirect[] = {{kData + 0x3000, 7, false}, {kData + 0x3100, 9, false}};
  d.add_chain(c.six, 1);
  d.add_chain(one, 2);
  d.add_indirect_chain(indirect, 3);
  hv::virtio::DescriptorChain chain;
  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, 1);
  EXPECT_EQ(chain.ring_slots, 6);
  EXPECT_EQ(chain.buffers.size(), 6U);
  EXPECT_EQ(chain.readable_bytes, 96U);
  EXPECT_EQ(chain.writable_bytes, 240U);
  const hv::virtio::Buffer* storage = chain.buffers.begin();

  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, 2);
  EXPECT_EQ(chain.ring_slots, 1) << "the long list's slot count leaked into the short one";
  EXPECT_EQ(chain.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x2000, 100, true}}));
  EXPECT_EQ(chain.readable_bytes, 0U) << "the long list's byte counts leaked into the short one";
  EXPECT_EQ(chain.writable_bytes, 100U);
  EXPECT_EQ(chain.buffers.begin(), storage) << "the reused chain let go of its storage";

  ASSERT_TRUE(q.pop_into(memory_, chain).value());
  EXPECT_EQ(chain.head, 3);
  EXPECT_EQ(chain.ring_slots, 1);
  EXPECT_EQ(chain.buffers, (std::vector<hv::virtio::Buffer>{{kData + 0x3000, 7, false}, {kData + 0x3100, 9, false}}));
  EXPECT_EQ(chain.readable_bytes, 16U);
  EXPECT_EQ(chain.writable_bytes, 0U);
  EXPECT_EQ(chain.buffers.begin(), storage);
  ASSERT_TRUE(q.add_used(memory_, chain.head, 0, chain.ring_slots));
}

// --- The device's position (GET/SET_VRING_BASE, snapshots) and notification control (issue 15). ---

TEST_F(PackedQueueTest, AQueueRestoredFromItsStateContinuesAcrossTheWrap) {
  auto d = driver(4);
  auto q = queue(d);
  const BufferSpec b[] = {{kData, 8, true}};
  for (std::uint16_t id = 0; id < 3; ++id) {
    d.add_chain(b, id);
    auto c = q.pop(memory_);
    ASSERT_TRUE(c && *c);
    ASSERT_TRUE(q.add_used(memory_, (*c)->head, 8, (*c)->ring_slots));
  }
  d.add_chain(b, 3);  // slot 3
  d.add_chain(b, 4);  // slot 0, the driver's second lap
  auto fourth = q.pop(memory_);
  ASSERT_TRUE(fourth && *fourth);
  EXPECT_EQ((*fourth)->head, 3);
  const auto state = q.state();
  EXPECT_EQ(state, (hv::virtio::PackedQueueState{0, false, 3, true})) << "avail wrapped, used not yet";

  auto restored = PackedQueue::restore(memory_, d.config(), state);
  ASSERT_TRUE(restored) << restored.error().to_string();
  EXPECT_EQ(restored->state(), state);
  auto fifth = restored->pop(memory_);
  ASSERT_TRUE(fifth && *fifth) << "the restored queue reads slot 0 with the flipped wrap counter";
  EXPECT_EQ((*fifth)->head, 4);
  ASSERT_TRUE(restored->add_used(memory_, 3, 8, 1));  // slot 3, used wrap 1
  ASSERT_TRUE(restored->add_used(memory_, 4, 8, 1));  // slot 0, used wrap 0
  EXPECT_EQ(d.descriptor(3).id, 3);
  EXPECT_EQ(d.descriptor(3).flags & (kAvail | kUsed), kAvail | kUsed);
  EXPECT_EQ(d.descriptor(0).id, 4);
  EXPECT_EQ(d.descriptor(0).flags & (kAvail | kUsed), 0) << "used with the wrapped counter";
}

TEST_F(PackedQueueTest, ARestoredPositionOutsideTheRingIsRefused) {
  auto d = driver(4);
  for (const auto state :
       {hv::virtio::PackedQueueState{4, true, 0, true}, hv::virtio::PackedQueueState{0, true, 4, true},
        hv::virtio::PackedQueueState{0xffff, false, 0xffff, false}}) {
    auto q = PackedQueue::restore(memory_, d.config(), state);
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().kind(), hv::ErrorKind::InvalidArgument);
  }
  auto config = d.config();
  config.size = 0;
  auto bad = PackedQueue::restore(memory_, config, {});
  ASSERT_FALSE(bad) << "the configuration is checked as create() checks it";
}

TEST_F(PackedQueueTest, DisablingNotificationWritesDisable) {
  auto d = driver(8);
  auto q = queue(d);
  ASSERT_TRUE(q.disable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().device_event + 2).value(), 1) << "RING_EVENT_FLAGS_DISABLE";
  ASSERT_TRUE(q.enable_notification(memory_));
  EXPECT_EQ(memory_.read_obj<std::uint16_t>(d.config().device_event + 2).value(), 0) << "RING_EVENT_FLAGS_ENABLE";
}

}  // namespace
