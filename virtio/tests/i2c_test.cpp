// virtio-i2c on both ring layouts, driven by a mock driver and served onto a fake bus that records
// every transaction: request validation (each malformed shape gets ERR and never reaches the bus),
// any framing, zero-length probes, groups (one transaction, failure propagation, the prefix before a
// malformed request, independence without FAIL_NEXT, more than 42 messages), groups held across
// notifies and executed when they fill the ring, batches, reset, stop, activation and a broken queue.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hv/virtio/i2c.hpp"
#include "i2c_test_support.hpp"

namespace {

using namespace hv::virtio;
using hvtest::BufferSpec;
using hvtest::FakeI2cBus;
using hvtest::I2cRing;
using hvtest::Request;
using Used = I2cRing::Used;

constexpr std::uint8_t kEeprom = 0x50, kSensor = 0x48;
constexpr std::uint32_t kFailNext = kI2cFlagFailNext;

std::shared_ptr<hv::GuestMemory> make_memory() {
  const hv::RegionSpec spec{0, 0x400000};
  return std::make_shared<hv::GuestMemory>(std::move(*hv::GuestMemory::create(std::span(&spec, 1))));
}

FakeI2cBus::Message written(std::uint8_t address, std::vector<std::uint8_t> data) {
  const std::size_t n = data.size();
  return {address, false, std::move(data), n};
}
FakeI2cBus::Message read_of(std::uint8_t address, std::size_t length) { return {address, true, {}, length}; }

std::vector<std::uint8_t> expected_read(std::uint8_t address, std::size_t length) {
  std::vector<std::uint8_t> out(length);
  for (std::size_t i = 0; i < length; ++i) out[i] = FakeI2cBus::read_byte(address, i);
  return out;
}

// Parameter: true for a packed ring, false for a split one.
class I2cTest : public ::testing::TestWithParam<bool> {
 protected:
  void start(std::uint16_t ring_size = 16) {
    ring_.emplace(*memory_, GetParam(), ring_size);
    auto r = device_->activate(memory_, kI2cFeatureZeroLengthRequest, ring_->queues(), signals());
    ASSERT_TRUE(r) << r.error().to_string();
  }
  DeviceSignals signals() {
    return DeviceSignals{[this](std::uint16_t) { ++interrupts_; }, [this] { ++resets_; }};
  }
  const std::vector<Used>& serve() {
    device_->notify(0);
    return ring_->used();
  }
  I2cRing& ring() { return *ring_; }
  std::uint8_t status(const Request& r) { return ring_->status(r); }

  std::shared_ptr<hv::GuestMemory> memory_ = make_memory();
  std::shared_ptr<FakeI2cBus> bus_ = std::make_shared<FakeI2cBus>();
  std::shared_ptr<I2cDevice> device_ = std::make_shared<I2cDevice>(bus_);
  std::optional<I2cRing> ring_;
  int interrupts_ = 0, resets_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Layouts, I2cTest, ::testing::Values(false, true), [](const auto& layout) {
  return layout.param ? std::string("Packed") : std::string("Split");
});

// --- validation ------------------------------------------------------------------------------------

TEST_P(I2cTest, EachMalformedRequestGetsErrAndNeverReachesTheBus) {
  start();
  struct Shape {
    const char* name;
    std::function<Request(I2cRing&)> build;
  };
  const auto status_byte = [](I2cRing& r) { return r.alloc(1, 0xee); };
  const auto with = [](I2cRing&, std::vector<BufferSpec> buffers, std::uint64_t status_at) {
    buffers.push_back({status_at, 1, true});
    return Request{buffers, status_at, 0};
  };
  const std::vector<Shape> shapes = {
      {"header of 7 bytes",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 0), 7, false}}, status_byte(r));
       }},
      {"no header at all", [&](I2cRing& r) { return with(r, {}, status_byte(r)); }},
      {"address bit 0 set",
       [&](I2cRing& r) {
         return with(r, {{r.header((kEeprom << 1) | 1, 0), 8, false}}, status_byte(r));
       }},
      {"address 0x78 (reserved)",
       [&](I2cRing& r) {
         return with(r, {{r.header(0x78 << 1, 0), 8, false}}, status_byte(r));
       }},
      {"address field 0xff00",
       [&](I2cRing& r) {
         return with(r, {{r.header(0xff00, 0), 8, false}}, status_byte(r));
       }},
      {"unknown flag bit 2",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 1U << 2), 8, false}}, status_byte(r));
       }},
      {"unknown flag bit 31",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 1U << 31), 8, false}}, status_byte(r));
       }},
      {"M_RD with write data and a read buffer",
       [&](I2cRing& r) {
         return with(r,
                     {{r.header(kEeprom << 1, kI2cFlagRead), 8, false}, {r.alloc(4), 4, false}, {r.alloc(4), 4, true}},
                     status_byte(r));
       }},
      {"M_RD with write data only",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, kI2cFlagRead), 8, false}, {r.alloc(4), 4, false}}, status_byte(r));
       }},
      {"write with a read buffer too",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 0), 8, false}, {r.alloc(4), 4, false}, {r.alloc(4), 4, true}},
                     status_byte(r));
       }},
      {"write with a read buffer only",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 0), 8, false}, {r.alloc(4), 4, true}}, status_byte(r));
       }},
      {"write of 8193 bytes",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, 0), 8, false}, {r.alloc(8193), 8193, false}}, status_byte(r));
       }},
      {"read of 8193 bytes",
       [&](I2cRing& r) {
         return with(r, {{r.header(kEeprom << 1, kI2cFlagRead), 8, false}, {r.alloc(8193), 8193, true}},
                     status_byte(r));
       }},
  };
  for (const auto& shape : shapes) {
    SCOPED_TRACE(shape.name);
    const Request request = shape.build(ring());
    const auto n = ring().add(request);
    const auto& used = serve();
    ASSERT_FALSE(used.empty());
    EXPECT_EQ(used.back(), (Used{n, 1}));
    EXPECT_EQ(status(request), kI2cStatusError);
    EXPECT_TRUE(bus_->transactions.empty());
  }
}

TEST_P(I2cTest, TheLimitsThemselvesAreValidAndPaddingIsIgnored) {
  start();
  const Request top = ring().write(0x77, {1});
  const Request big_write = ring().write(kEeprom, std::vector<std::uint8_t>(8192, 0x5a));
  const Request big_read = ring().read(kEeprom, 8192);
  Request padded;  // padding 0xffff, a write probe
  padded.status = ring().alloc(1, 0xee);
  padded.buffers = {{ring().header(kSensor << 1, 0, 0xffff), 8, false}, {padded.status, 1, true}};
  const std::vector<const Request*> all = {&top, &big_write, &big_read, &padded};
  for (const Request* r : all) ring().add(*r);
  const auto& used = serve();
  ASSERT_EQ(used.size(), 4U);
  EXPECT_EQ(used[2].length, 8193U);
  for (const Request* r : all) EXPECT_EQ(status(*r), kI2cStatusOk);
  ASSERT_EQ(bus_->transactions.size(), 4U);
  EXPECT_EQ(bus_->transactions[0], (std::vector{written(0x77, {1})}));
  EXPECT_EQ(bus_->transactions[1][0].length, 8192U);
  EXPECT_EQ(bus_->transactions[2], (std::vector{read_of(kEeprom, 8192)}));
  EXPECT_EQ(bus_->transactions[3], (std::vector{written(kSensor, {})}));
  EXPECT_EQ(ring().bytes(big_read.data, 8192), expected_read(kEeprom, 8192));
}

TEST_P(I2cTest, AChainWithNoWritableByteIsUsedWithLengthZero) {
  start();
  Request r;
  r.buffers = {{ring().header(kEeprom << 1, 0), 8, false}, {ring().alloc(2), 2, false}};
  const auto n = ring().add(r);
  EXPECT_EQ(serve(), (std::vector{Used{n, 0}}));
  EXPECT_TRUE(bus_->transactions.empty());
}

TEST_P(I2cTest, AnAddressTheBusDoesNotServeGetsErrWithoutReachingIt) {
  start();
  bus_->unserved.insert(kSensor);
  const Request r = ring().write(kSensor, {1, 2});
  const auto n = ring().add(r);
  EXPECT_EQ(serve(), (std::vector{Used{n, 1}}));
  EXPECT_EQ(status(r), kI2cStatusError);
  EXPECT_TRUE(bus_->transactions.empty());
}

TEST_P(I2cTest, DataOutsideGuestMemoryFailsItsRequest) {
  start();
  constexpr std::uint64_t kEndOfRam = 0x400000;
  // A write whose data crosses the end of RAM: ERR, unexecuted, and its group fails with it.
  Request a = ring().write(kEeprom, {1, 2, 3, 4}, kFailNext);
  a.buffers[1].address = kEndOfRam - 2;
  const Request b = ring().write(kEeprom, {5});
  // A read whose buffer lies outside RAM: the bus ran it, but the data cannot be delivered: ERR.
  Request c = ring().read(kSensor, 4);
  c.buffers[1].address = kEndOfRam + 0x1000;
  const auto na = ring().add(a), nb = ring().add(b), nc = ring().add(c);
  EXPECT_EQ(serve(), (std::vector{Used{na, 1}, Used{nb, 1}, Used{nc, 1}}));
  EXPECT_EQ(status(a), kI2cStatusError);
  EXPECT_EQ(status(b), kI2cStatusError);
  EXPECT_EQ(status(c), kI2cStatusError);
  EXPECT_EQ(bus_->transactions, (std::vector<std::vector<FakeI2cBus::Message>>{{read_of(kSensor, 4)}}));
}

// --- framing ---------------------------------------------------------------------------------------

TEST_P(I2cTest, AnyFramingOfTheTwoStreamsIsServed) {
  start();
  // A write: the header split 3 + 5, the data split 2 + 2, the status on its own.
  Request w;
  const std::uint64_t header = ring().header(kEeprom << 1, 0);
  const std::uint64_t data = ring().alloc(4);
  ASSERT_TRUE(memory_->write(data, std::vector<std::uint8_t>{9, 8, 7, 6}));
  w.status = ring().alloc(1, 0xee);
  w.buffers = {{header, 3, false}, {header + 3, 5, false}, {data, 2, false}, {data + 2, 2, false}, {w.status, 1, true}};
  // A read: the header split 1 + 7, the data and the status in one buffer.
  Request r;
  const std::uint64_t header2 = ring().header(kEeprom << 1, kI2cFlagRead);
  r.data = ring().alloc(6, 0xcc);
  r.status = r.data + 5;
  r.buffers = {{header2, 1, false}, {header2 + 1, 7, false}, {r.data, 6, true}};
  // A read whose data is split 3 + 2, the status sharing the second buffer.
  Request s;
  s.data = ring().alloc(6, 0xcc);
  s.status = s.data + 5;
  s.buffers = {{ring().header(kSensor << 1, kI2cFlagRead), 8, false}, {s.data, 3, true}, {s.data + 3, 3, true}};
  const auto nw = ring().add(w), nr = ring().add(r), ns = ring().add(s, /*indirect=*/true);
  EXPECT_EQ(serve(), (std::vector{Used{nw, 1}, Used{nr, 6}, Used{ns, 6}}));
  ASSERT_EQ(bus_->transactions.size(), 3U);
  EXPECT_EQ(bus_->transactions[0], (std::vector{written(kEeprom, {9, 8, 7, 6})}));
  EXPECT_EQ(bus_->transactions[1], (std::vector{read_of(kEeprom, 5)}));
  EXPECT_EQ(bus_->transactions[2], (std::vector{read_of(kSensor, 5)}));
  for (const Request* q : {&w, &r, &s}) EXPECT_EQ(status(*q), kI2cStatusOk);
  EXPECT_EQ(ring().bytes(r.data, 5), expected_read(kEeprom, 5));
  EXPECT_EQ(ring().bytes(s.data, 5), expected_read(kSensor, 5));
}

TEST_P(I2cTest, ZeroLengthRequestsAreProbes) {
  start();
  const Request w = ring().write(kEeprom, {});
  const Request r = ring().read(kSensor, 0);
  const auto nw = ring().add(w), nr = ring().add(r);
  EXPECT_EQ(serve(), (std::vector{Used{nw, 1}, Used{nr, 1}}));
  ASSERT_EQ(bus_->transactions.size(), 2U);
  EXPECT_EQ(bus_->transactions[0], (std::vector{written(kEeprom, {})}));
  EXPECT_EQ(bus_->transactions[1], (std::vector{read_of(kSensor, 0)}));
  EXPECT_EQ(bus_->null_data, 0) << "a probe's data() was null";
  EXPECT_EQ(status(w), kI2cStatusOk);
  EXPECT_EQ(status(r), kI2cStatusOk);
  // A probe of an absent target fails like any message.
  bus_->outcomes = {0};
  const Request absent = ring().write(0x10, {});
  ring().add(absent);
  serve();
  EXPECT_EQ(status(absent), kI2cStatusError);
}

// --- groups ----------------------------------------------------------------------------------------

TEST_P(I2cTest, AGroupIsOneTransaction) {
  start();
  const Request a = ring().write(kEeprom, {0x10}, kFailNext);
  const Request b = ring().read(kEeprom, 4, kFailNext);
  const Request c = ring().write(kSensor, {1, 2});
  const auto na = ring().add(a), nb = ring().add(b), nc = ring().add(c);
  EXPECT_EQ(serve(), (std::vector{Used{na, 1}, Used{nb, 5}, Used{nc, 1}}));
  ASSERT_EQ(bus_->transactions.size(), 1U);
  EXPECT_EQ(bus_->transactions[0],
            (std::vector{written(kEeprom, {0x10}), read_of(kEeprom, 4), written(kSensor, {1, 2})}));
  EXPECT_EQ(ring().bytes(b.data, 4), expected_read(kEeprom, 4));
  EXPECT_EQ(interrupts_, 1);
}

TEST_P(I2cTest, AFailureInAGroupFailsTheRestAndLeavesReadBuffersAlone) {
  start();
  bus_->outcomes = {1};  // the first message succeeds, the second fails
  const Request a = ring().write(kEeprom, {0x10}, kFailNext);
  const Request b = ring().read(kEeprom, 4, kFailNext);
  const Request c = ring().read(kEeprom, 2);
  const auto na = ring().add(a), nb = ring().add(b), nc = ring().add(c);
  EXPECT_EQ(serve(), (std::vector{Used{na, 1}, Used{nb, 1}, Used{nc, 1}}));
  ASSERT_EQ(bus_->transactions.size(), 1U);
  EXPECT_EQ(status(a), kI2cStatusOk);
  EXPECT_EQ(status(b), kI2cStatusError);
  EXPECT_EQ(status(c), kI2cStatusError);
  EXPECT_EQ(ring().bytes(b.data, 4), std::vector<std::uint8_t>(4, 0xcc)) << "a failed read's buffer was written";
}

TEST_P(I2cTest, TheValidPrefixBeforeAMalformedRequestIsExecutedAndTheRestFails) {
  start();
  const Request a = ring().write(kEeprom, {1}, kFailNext);
  const Request bad = ring().write(0x7f, {2}, kFailNext);  // reserved address
  const Request c = ring().write(kEeprom, {3});
  ring().add(a);
  ring().add(bad);
  ring().add(c);
  serve();
  EXPECT_EQ(bus_->transactions, (std::vector<std::vector<FakeI2cBus::Message>>{{written(kEeprom, {1})}}));
  EXPECT_EQ(status(a), kI2cStatusOk);
  EXPECT_EQ(status(bad), kI2cStatusError);
  EXPECT_EQ(status(c), kI2cStatusError);
}

TEST_P(I2cTest, AnUnservedAddressInAGroupEndsItsTransactionThere) {
  start();
  bus_->unserved.insert(kSensor);
  const Request a = ring().write(kEeprom, {1}, kFailNext);
  const Request b = ring().write(kSensor, {2}, kFailNext);
  const Request c = ring().write(kEeprom, {3});
  ring().add(a);
  ring().add(b);
  ring().add(c);
  serve();
  EXPECT_EQ(bus_->transactions, (std::vector<std::vector<FakeI2cBus::Message>>{{written(kEeprom, {1})}}));
  EXPECT_EQ(status(a), kI2cStatusOk);
  EXPECT_EQ(status(b), kI2cStatusError);
  EXPECT_EQ(status(c), kI2cStatusError);
}

TEST_P(I2cTest, RequestsWithoutFailNextAreIndependent) {
  start();
  bus_->outcomes = {0};  // the first transaction fails
  const Request a = ring().write(kEeprom, {1});
  const Request b = ring().write(kEeprom, {2});
  const Request c = ring().read(kSensor, 1);
  ring().add(a);
  ring().add(b);
  ring().add(c);
  serve();
  EXPECT_EQ(bus_->transactions.size(), 3U);
  EXPECT_EQ(status(a), kI2cStatusError);
  EXPECT_EQ(status(b), kI2cStatusOk);
  EXPECT_EQ(status(c), kI2cStatusOk);
}

TEST_P(I2cTest, AGroupOfMoreThan42IsSplitIntoTransactionsThatCarryFailure) {
  start(128);
  std::vector<Request> group;
  for (int i = 0; i < 45; ++i) group.push_back(ring().write(kEeprom, {}, i < 44 ? kFailNext : 0));
  for (const auto& r : group) ring().add(r);
  serve();
  ASSERT_EQ(bus_->transactions.size(), 2U);
  EXPECT_EQ(bus_->transactions[0].size(), hv::dev::kI2cMaxTransactionMessages);
  EXPECT_EQ(bus_->transactions[1].size(), 3U);

  // The same group failing in its 42nd message: the rest is never executed.
  bus_->transactions.clear();
  bus_->outcomes = {41};
  std::vector<Request> failing;
  for (int i = 0; i < 45; ++i) failing.push_back(ring().write(kEeprom, {}, i < 44 ? kFailNext : 0));
  for (const auto& r : failing) ring().add(r);
  serve();
  ASSERT_EQ(bus_->transactions.size(), 1U);
  for (std::size_t i = 0; i < failing.size(); ++i) {
    EXPECT_EQ(status(failing[i]), i < 41 ? kI2cStatusOk : kI2cStatusError) << "request " << i;
  }
}

TEST_P(I2cTest, ABatchOfGroupsAndSingleRequestsIsServedInOrder) {
  start(32);  // 18 descriptors
  const std::vector<Request> requests = {
      ring().write(kEeprom, {0}, kFailNext),
      ring().read(kEeprom, 2),     // a group
      ring().write(kSensor, {5}),  // alone
      ring().read(kSensor, 1, kFailNext),
      ring().read(kSensor, 1, kFailNext),
      ring().write(kSensor, {6}),
  };
  std::vector<Used> expected;
  for (const auto& r : requests) {
    const auto n = ring().add(r);
    expected.push_back({n, r.data != 0 && r.buffers[1].device_writable ? r.buffers[1].length + 1 : 1U});
  }
  EXPECT_EQ(serve(), expected);
  ASSERT_EQ(bus_->transactions.size(), 3U);
  EXPECT_EQ(bus_->transactions[0].size(), 2U);
  EXPECT_EQ(bus_->transactions[1].size(), 1U);
  EXPECT_EQ(bus_->transactions[2].size(), 3U);
  EXPECT_EQ(interrupts_, 1) << "one interrupt for the batch";
}

// --- held groups -----------------------------------------------------------------------------------

TEST_P(I2cTest, AGroupSplitAcrossNotifiesIsHeldThenExecutedAsOneTransaction) {
  start();
  const Request a = ring().write(kEeprom, {1}, kFailNext);
  const Request b = ring().write(kEeprom, {2}, kFailNext);
  ring().add(a);
  ring().add(b);
  EXPECT_TRUE(serve().empty()) << "half a group was used";
  EXPECT_TRUE(bus_->transactions.empty()) << "half a group was executed";
  EXPECT_EQ(interrupts_, 0);
  const Request c = ring().read(kEeprom, 1);
  ring().add(c);
  EXPECT_EQ(serve().size(), 3U);
  EXPECT_EQ(bus_->transactions, (std::vector<std::vector<FakeI2cBus::Message>>{
                                    {written(kEeprom, {1}), written(kEeprom, {2}), read_of(kEeprom, 1)}}));
  EXPECT_EQ(interrupts_, 1);
}

TEST_P(I2cTest, AGroupThatLeavesNoRoomForAnotherRequestIsExecutedAsItStands) {
  start(8);
  const Request a = ring().write(kEeprom, {1}, kFailNext);  // 3 descriptors: 5 free, held
  ring().add(a);
  EXPECT_TRUE(serve().empty());
  const Request b = ring().write(kEeprom, {2}, kFailNext);  // 6 held, 2 free: the driver is stuck
  ring().add(b);
  EXPECT_EQ(serve().size(), 2U);
  ASSERT_EQ(bus_->transactions.size(), 1U);
  EXPECT_EQ(bus_->transactions[0].size(), 2U);
  // Its continuation is a transaction of its own.
  const Request c = ring().read(kEeprom, 1);
  ring().add(c);
  EXPECT_EQ(serve().size(), 3U);
  ASSERT_EQ(bus_->transactions.size(), 2U);
  EXPECT_EQ(bus_->transactions[1], (std::vector{read_of(kEeprom, 1)}));
  EXPECT_EQ(status(c), kI2cStatusOk);
}

TEST_P(I2cTest, OnAFourEntryRingTheContinuationOfAFailedGroupFails) {
  start(4);  // QEMU's vhost-user-i2c ring
  bus_->outcomes = {1};
  const Request a = ring().write(kEeprom, {}, kFailNext);  // two probes fill the ring
  const Request b = ring().write(kEeprom, {}, kFailNext);
  ring().add(a);
  ring().add(b);
  EXPECT_EQ(serve().size(), 2U) << "a group filling the ring was held: the driver would hang";
  ASSERT_EQ(bus_->transactions.size(), 1U);
  EXPECT_EQ(bus_->transactions[0].size(), 2U);
  EXPECT_EQ(status(a), kI2cStatusOk);
  EXPECT_EQ(status(b), kI2cStatusError);
  const Request c = ring().write(kEeprom, {});  // the rest of the group
  ring().add(c);
  EXPECT_EQ(serve().size(), 3U);
  EXPECT_EQ(status(c), kI2cStatusError);
  EXPECT_EQ(bus_->transactions.size(), 1U) << "the continuation of a failed group reached the bus";
  // The group ended: the next request is independent again.
  const Request d = ring().write(kEeprom, {});
  ring().add(d);
  serve();
  EXPECT_EQ(status(d), kI2cStatusOk);
  EXPECT_EQ(bus_->transactions.size(), 2U);
}

TEST_P(I2cTest, ADriverThatKeepsAddingCannotHoldTheDeviceForever) {
  start(4);
  // Every transfer makes one more request available: without a bound per notify, this never ends.
  struct Adding final : hv::dev::I2cBus {
    [[nodiscard]] bool serves(std::uint8_t) const override { return true; }
    std::size_t transfer(std::span<const hv::dev::I2cMessage> messages) override {
      ++transfers;
      ring->add(ring->write(kEeprom, {}));
      return messages.size();
    }
    I2cRing* ring = nullptr;
    int transfers = 0;
  };
  auto adding = std::make_shared<Adding>();
  adding->ring = &ring();
  I2cDevice device(adding);
  ASSERT_TRUE(device.activate(memory_, kI2cFeatureZeroLengthRequest, ring().queues(), DeviceSignals{}));
  ring().add(ring().write(kEeprom, {}));
  device.notify(0);
  EXPECT_EQ(adding->transfers, 4) << "one notify served more than a ring's worth";
}

// --- reset, stop, activation, a broken queue ------------------------------------------------------

TEST_P(I2cTest, ResetDropsHeldChainsAndTheFailureCarried) {
  start(4);
  bus_->outcomes = {0};
  ring().add(ring().write(kEeprom, {}, kFailNext));
  ring().add(ring().write(kEeprom, {}, kFailNext));
  serve();  // the ring is full: executed, failed, the failure carried
  ring().add(ring().write(kEeprom, {1}, kFailNext));
  device_->reset();
  start(16);
  const Request fresh = ring().write(kSensor, {2});
  const auto n = ring().add(fresh);
  EXPECT_EQ(serve(), (std::vector{Used{n, 1}}));
  EXPECT_EQ(status(fresh), kI2cStatusOk) << "a failure carried across a reset";
  ASSERT_EQ(bus_->transactions.size(), 2U);
  EXPECT_EQ(bus_->transactions[1], (std::vector{written(kSensor, {2})})) << "a dropped chain was executed";

  // A held chain is dropped too.
  ring().add(ring().write(kEeprom, {3}, kFailNext));
  serve();
  device_->reset();
  start(16);
  ring().add(ring().write(kSensor, {4}));
  serve();
  ASSERT_EQ(bus_->transactions.size(), 3U);
  EXPECT_EQ(bus_->transactions[2], (std::vector{written(kSensor, {4})}));
}

TEST_P(I2cTest, StopExecutesTheHeldGroupAndTheContinuationCarriesItsFailure) {
  start();
  bus_->outcomes = {1};
  const Request a = ring().write(kEeprom, {1}, kFailNext);
  const Request b = ring().write(kEeprom, {2}, kFailNext);
  const auto na = ring().add(a), nb = ring().add(b);
  EXPECT_TRUE(serve().empty());
  auto stopped = device_->stop();
  ASSERT_TRUE(stopped) << stopped.error().to_string();
  ASSERT_EQ(stopped->size(), 1U);
  EXPECT_EQ(ring().used(), (std::vector{Used{na, 1}, Used{nb, 1}}));
  EXPECT_EQ(bus_->transactions.size(), 1U);
  EXPECT_EQ(status(a), kI2cStatusOk);
  EXPECT_EQ(status(b), kI2cStatusError);
  // Stopped: nothing is served ...
  const Request c = ring().write(kEeprom, {3});
  ring().add(c);
  EXPECT_EQ(serve().size(), 2U);
  // ... until the queue is activated again, and the group's end still fails.
  ASSERT_TRUE(device_->activate(memory_, kI2cFeatureZeroLengthRequest, std::move(*stopped), signals()));
  EXPECT_EQ(serve().size(), 3U);
  EXPECT_EQ(status(c), kI2cStatusError);
  EXPECT_EQ(bus_->transactions.size(), 1U);
}

TEST_P(I2cTest, StopWithAHeldGroupThatSucceedsLeavesTheContinuationIndependent) {
  start();
  ring().add(ring().write(kEeprom, {1}, kFailNext));
  serve();
  auto stopped = device_->stop();
  ASSERT_TRUE(stopped);
  EXPECT_EQ(ring().used().size(), 1U);
  ASSERT_TRUE(device_->activate(memory_, kI2cFeatureZeroLengthRequest, std::move(*stopped), signals()));
  const Request c = ring().write(kEeprom, {2});
  ring().add(c);
  serve();
  EXPECT_EQ(status(c), kI2cStatusOk);
  EXPECT_EQ(bus_->transactions.size(), 2U);
}

TEST_P(I2cTest, ActivationRequiresZeroLengthRequestsAndTheRequestQueue) {
  ring_.emplace(*memory_, GetParam(), 16);
  auto refused = device_->activate(memory_, 0, ring().queues(), signals());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), hv::ErrorKind::ProtocolViolation);
  ring().add(ring().write(kEeprom, {1}));
  EXPECT_TRUE(serve().empty()) << "a refused device served the queue";
  EXPECT_FALSE(device_->activate(nullptr, kI2cFeatureZeroLengthRequest, ring().queues(), signals()));
  EXPECT_FALSE(device_->activate(memory_, kI2cFeatureZeroLengthRequest, {}, signals()));
  std::vector<std::pair<std::uint16_t, Queue>> wrong;
  wrong.emplace_back(1, ring().queue());
  EXPECT_FALSE(device_->activate(memory_, kI2cFeatureZeroLengthRequest, std::move(wrong), signals()));
  EXPECT_TRUE(device_->activate(memory_, kI2cFeatureZeroLengthRequest, ring().queues(), signals()));
  EXPECT_EQ(serve().size(), 1U);
}

TEST_P(I2cTest, ABrokenQueueStopsTheDeviceUntilReset) {
  start();
  ring().add(ring().write(kEeprom, {1}, kFailNext));
  serve();  // held
  // An empty indirect table breaks the queue protocol in both layouts (§2.7.5.3.1, §2.8.7.1).
  ring().add(Request{}, /*indirect=*/true);
  EXPECT_TRUE(serve().empty());
  EXPECT_TRUE(device_->broken());
  EXPECT_EQ(resets_, 1) << "the driver was not told to reset";
  EXPECT_TRUE(bus_->transactions.empty()) << "a broken queue's held group was executed";
  device_->reset();
  EXPECT_FALSE(device_->broken());
}

}  // namespace
