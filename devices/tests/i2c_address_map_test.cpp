#include "hv/dev/i2c_address_map.hpp"

#include <algorithm>
#include <cstdint>

#include <gtest/gtest.h>

#include "hv/dev/i2c_eeprom.hpp"
#include "i2c_test_support.hpp"

namespace {

using hv::dev::I2cAddressMap;
using hv::dev::I2cBus;
using hv::dev::I2cEeprom;
using hv::dev::I2cMessage;
using i2ctest::read_from;
using i2ctest::write_to;
using Bytes = std::vector<std::uint8_t>;

// A bus serving a set of addresses that records each transaction it is given (the addresses of its
// messages) and succeeds for the first `succeed` messages of each.
class RecordingBus final : public I2cBus {
 public:
  explicit RecordingBus(std::vector<std::uint8_t> addresses) : addresses_(std::move(addresses)) {}
  [[nodiscard]] bool serves(std::uint8_t address) const override {
    return std::find(addresses_.begin(), addresses_.end(), address) != addresses_.end();
  }
  std::size_t transfer(std::span<const I2cMessage> messages) override {
    std::vector<std::uint8_t> seen;
    for (const auto& m : messages) seen.push_back(m.address);
    transactions.push_back(seen);
    return std::min(messages.size(), succeed);
  }
  std::vector<std::vector<std::uint8_t>> transactions;
  std::size_t succeed = SIZE_MAX;

 private:
  std::vector<std::uint8_t> addresses_;
};

TEST(I2cAddressMap, RoutesEachAddressToItsBus) {
  auto first = *I2cEeprom::create(0x50);
  auto second = *I2cEeprom::create(0x51);
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x50, first));
  ASSERT_TRUE(map.add(0x51, second));
  EXPECT_TRUE(map.serves(0x50));
  EXPECT_TRUE(map.serves(0x51));
  EXPECT_FALSE(map.serves(0x52));
  EXPECT_FALSE(map.serves(0xff));
  Bytes to_first{0x00, 0x11};
  Bytes to_second{0x00, 0x22};
  const std::vector<I2cMessage> messages{write_to(0x50, to_first), write_to(0x51, to_second)};
  EXPECT_EQ(map.transfer(messages), 2U);
  EXPECT_EQ(first->contents()[0], 0x11);
  EXPECT_EQ(second->contents()[0], 0x22);
}

TEST(I2cAddressMap, RefusesDuplicatesBadAddressesAndBusesThatDoNotServeTheAddress) {
  auto eeprom = *I2cEeprom::create(0x50);
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x50, eeprom));
  const auto duplicate = map.add(0x50, *I2cEeprom::create(0x50));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().kind(), hv::ErrorKind::AlreadyExists);
  const auto not_served = map.add(0x51, eeprom);
  ASSERT_FALSE(not_served);
  EXPECT_EQ(not_served.error().kind(), hv::ErrorKind::InvalidArgument);
  const auto null_bus = map.add(0x52, nullptr);
  ASSERT_FALSE(null_bus);
  EXPECT_EQ(null_bus.error().kind(), hv::ErrorKind::InvalidArgument);
  auto wide = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x78});
  const auto too_high = map.add(0x78, wide);
  ASSERT_FALSE(too_high);
  EXPECT_EQ(too_high.error().kind(), hv::ErrorKind::InvalidArgument);
  EXPECT_FALSE(map.serves(0x78));
}

TEST(I2cAddressMap, ACrossBusTransactionRunsAsConsecutivePerBusRuns) {
  auto a = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x10, 0x11});
  auto b = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x20});
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x10, a));
  ASSERT_TRUE(map.add(0x11, a));
  ASSERT_TRUE(map.add(0x20, b));
  Bytes byte{0};
  const std::vector<I2cMessage> messages{write_to(0x10, byte), read_from(0x11, byte), write_to(0x20, byte),
                                         read_from(0x20, byte), write_to(0x10, byte)};
  EXPECT_EQ(map.transfer(messages), 5U);
  EXPECT_EQ(a->transactions, (std::vector<std::vector<std::uint8_t>>{{0x10, 0x11}, {0x10}}));
  EXPECT_EQ(b->transactions, (std::vector<std::vector<std::uint8_t>>{{0x20, 0x20}}));
}

TEST(I2cAddressMap, StopsAtTheFirstFailureInsideARun) {
  auto a = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x10});
  auto b = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x20});
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x10, a));
  ASSERT_TRUE(map.add(0x20, b));
  b->succeed = 1;
  Bytes byte{0};
  const std::vector<I2cMessage> messages{write_to(0x10, byte), write_to(0x20, byte), write_to(0x20, byte),
                                         write_to(0x10, byte)};
  EXPECT_EQ(map.transfer(messages), 2U) << "the first message and the first of b's run";
  EXPECT_EQ(a->transactions.size(), 1U) << "the run after the failure is never started";
  EXPECT_EQ(b->transactions.size(), 1U);
}

TEST(I2cAddressMap, AnUnroutedAddressFailsAtItsMessage) {
  auto a = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x10});
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x10, a));
  Bytes byte{0};
  const std::vector<I2cMessage> messages{write_to(0x10, byte), write_to(0x33, byte), write_to(0x10, byte)};
  EXPECT_EQ(map.transfer(messages), 1U);
  EXPECT_EQ(a->transactions, (std::vector<std::vector<std::uint8_t>>{{0x10}}));
  const std::vector<I2cMessage> first_unrouted{write_to(0x33, byte), write_to(0x10, byte)};
  EXPECT_EQ(map.transfer(first_unrouted), 0U);
  EXPECT_EQ(a->transactions.size(), 1U);
}

TEST(I2cAddressMap, AtMost42MessagesAreExecuted) {
  auto a = std::make_shared<RecordingBus>(std::vector<std::uint8_t>{0x10});
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x10, a));
  Bytes byte{0};
  const std::vector<I2cMessage> messages(hv::dev::kI2cMaxTransactionMessages + 5, write_to(0x10, byte));
  EXPECT_EQ(map.transfer(messages), hv::dev::kI2cMaxTransactionMessages);
  ASSERT_EQ(a->transactions.size(), 1U);
  EXPECT_EQ(a->transactions[0].size(), hv::dev::kI2cMaxTransactionMessages);
}

TEST(I2cAddressMap, ABusClaimingMoreThanItWasGivenCannotOverstateTheCount) {
  class Boastful final : public I2cBus {
   public:
    [[nodiscard]] bool serves(std::uint8_t address) const override { return address == 0x10; }
    std::size_t transfer(std::span<const I2cMessage> /*messages*/) override { return 1000; }
  };
  I2cAddressMap map;
  ASSERT_TRUE(map.add(0x10, std::make_shared<Boastful>()));
  Bytes byte{0};
  const std::vector<I2cMessage> messages{write_to(0x10, byte), write_to(0x11, byte)};
  EXPECT_EQ(map.transfer(messages), 1U);
}

}  // namespace
