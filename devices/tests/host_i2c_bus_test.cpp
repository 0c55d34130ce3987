// HostI2cBus's translation, against a fake i2c-dev adapter that records every call and simulates
// register-file clients (24Cxx-like: a pointer set by the first written byte). The numbers below are
// the uapi values, written out: <linux/i2c.h> I2C_FUNC_* and I2C_SMBUS_*.
#include "hv/dev/host_i2c_bus.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <map>
#include <numeric>

#include <gtest/gtest.h>

#include "i2c_test_support.hpp"

namespace {

using hv::dev::HostI2cBus;
using hv::dev::I2cDevPort;
using hv::dev::I2cMessage;
using i2ctest::read_from;
using i2ctest::write_to;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t kFuncI2c = 0x00000001;
constexpr std::uint64_t kQuick = 0x00010000, kReadByte = 0x00020000, kWriteByte = 0x00040000,
                        kReadByteData = 0x00080000, kWriteByteData = 0x00100000, kReadWordData = 0x00200000,
                        kWriteWordData = 0x00400000, kReadI2cBlock = 0x04000000, kWriteI2cBlock = 0x08000000;
constexpr std::uint64_t kAllSmbus = kQuick | kReadByte | kWriteByte | kReadByteData | kWriteByteData | kReadWordData |
                                    kWriteWordData | kReadI2cBlock | kWriteI2cBlock;
constexpr std::uint32_t kSizeQuick = 0, kSizeByte = 1, kSizeByteData = 2, kSizeWordData = 3, kSizeI2cBlock = 8;

struct Client {
  std::array<std::uint8_t, 256> registers{};
  std::uint8_t pointer = 0;
};

struct FakeAdapter {
  std::uint64_t functions = 0;
  std::vector<std::string> calls;
  std::map<std::uint8_t, Client> clients;  // what answers on the wire
  int fail_calls_from = -1;                // the index in `calls` from which every call fails (EIO)
};

class FakePort final : public I2cDevPort {
 public:
  explicit FakePort(std::shared_ptr<FakeAdapter> adapter) : a_(std::move(adapter)) {}

  hv::Result<std::uint64_t> functionality() override {
    if (auto e = record("funcs")) return *e;
    return a_->functions;
  }
  hv::Result<void> read_write(std::span<const I2cMessage> messages) override {
    std::string call = "rdwr";
    for (const auto& m : messages) call += format(" %c%02x:%zu", m.read ? 'r' : 'w', m.address, m.data.size());
    if (auto e = record(call)) return *e;
    for (const auto& m : messages) {
      auto found = a_->clients.find(m.address);
      if (found == a_->clients.end()) return hv::fail_errno("I2C_RDWR", ENXIO);  // no ACK
      Client& c = found->second;
      if (m.read) {
        for (auto& byte : m.data) byte = c.registers.at(c.pointer++);
      } else if (!m.data.empty()) {
        c.pointer = m.data[0];
        for (std::size_t i = 1; i < m.data.size(); ++i) c.registers.at(c.pointer++) = m.data[i];
      }
    }
    return {};
  }
  hv::Result<void> set_target(std::uint8_t address) override {
    if (auto e = record(format("target %02x", address))) return *e;
    target_ = address;
    return {};
  }
  hv::Result<void> smbus(std::uint8_t read_write, std::uint8_t command, std::uint32_t size,
                         std::span<std::uint8_t, 34> data) override {
    // The bytes the kernel would read from the union for this transfer.
    std::size_t in = 0;
    if (read_write == 0 && size == kSizeByteData) in = 1;
    if (read_write == 0 && size == kSizeWordData) in = 2;
    if (size == kSizeI2cBlock) in = read_write == 0 ? 1 + data[0] : 1;
    std::string call = format("smbus %c cmd=%02x size=%u", read_write == 1 ? 'R' : 'W', command, size);
    if (in > 0) call += " data=";
    for (std::size_t i = 0; i < in; ++i) call += format("%02x", data[i]);
    if (auto e = record(call)) return *e;
    auto found = a_->clients.find(target_);
    if (found == a_->clients.end()) return hv::fail_errno("I2C_SMBUS", ENXIO);
    Client& c = found->second;
    const bool read = read_write == 1;
    switch (size) {
      case kSizeQuick: break;
      case kSizeByte:
        if (read)
          data[0] = c.registers.at(c.pointer++);
        else
          c.pointer = command;
        break;
      case kSizeByteData:
        if (read)
          data[0] = c.registers.at(command);
        else
          c.registers.at(command) = data[0];
        break;
      case kSizeWordData: {
        std::uint16_t word = 0;
        if (read) {
          word = static_cast<std::uint16_t>(c.registers.at(command) | (c.registers.at((command + 1) & 0xff) << 8));
          std::memcpy(data.data(), &word, 2);
        } else {
          std::memcpy(&word, data.data(), 2);
          c.registers.at(command) = static_cast<std::uint8_t>(word & 0xff);
          c.registers.at((command + 1) & 0xff) = static_cast<std::uint8_t>(word >> 8);
        }
        break;
      }
      case kSizeI2cBlock:
        for (std::size_t i = 0; i < data[0]; ++i) {
          auto& reg = c.registers.at((command + i) & 0xff);
          if (read)
            data[1 + i] = reg;
          else
            reg = data[1 + i];
        }
        break;
      default: return hv::fail_errno("I2C_SMBUS", EINVAL);
    }
    return {};
  }

 private:
  template <class... Args>
  static std::string format(const char* pattern, Args... args) {
    std::array<char, 64> buffer{};
    std::snprintf(buffer.data(), buffer.size(), pattern, args...);
    return buffer.data();
  }
  std::optional<tl::unexpected<hv::Error>> record(std::string call) {
    a_->calls.push_back(std::move(call));
    if (a_->fail_calls_from >= 0 && a_->calls.size() > static_cast<std::size_t>(a_->fail_calls_from)) {
      return hv::fail_errno("fake i2c-dev", EIO);
    }
    return std::nullopt;
  }
  std::shared_ptr<FakeAdapter> a_;
  std::uint8_t target_ = 0;
};

// An adapter with clients 0x50 and 0x51 (registers 0, 1, 2, ...), and a bus over it listing `listed`.
struct Fixture {
  std::shared_ptr<FakeAdapter> adapter = std::make_shared<FakeAdapter>();
  std::shared_ptr<HostI2cBus> bus;

  explicit Fixture(std::uint64_t functions, std::vector<std::uint8_t> listed = {0x50}) {
    adapter->functions = functions;
    for (const std::uint8_t address : {std::uint8_t{0x50}, std::uint8_t{0x51}}) {
      auto& c = adapter->clients[address];
      std::iota(c.registers.begin(), c.registers.end(), std::uint8_t{0});
    }
    auto created = HostI2cBus::create(std::make_unique<FakePort>(adapter), std::move(listed), "/dev/i2c-fake");
    EXPECT_TRUE(created.has_value()) << created.error().to_string();
    if (created) bus = *created;
    adapter->calls.clear();  // the I2C_FUNCS query
  }
  std::size_t run(std::initializer_list<I2cMessage> messages) {
    const std::vector<I2cMessage> list(messages);
    return bus->transfer(list);
  }
  std::vector<std::string>& calls() { return adapter->calls; }
  Client& client(std::uint8_t address) { return adapter->clients[address]; }
};

using Calls = std::vector<std::string>;

TEST(HostI2cBusCreate, RefusesBadClientListsAndAnAdapterWithNothingToOffer) {
  const auto make = [](std::uint64_t functions, std::vector<std::uint8_t> clients) {
    auto adapter = std::make_shared<FakeAdapter>();
    adapter->functions = functions;
    return HostI2cBus::create(std::make_unique<FakePort>(adapter), std::move(clients), "/dev/i2c-fake");
  };
  for (const auto& clients :
       {std::vector<std::uint8_t>{}, std::vector<std::uint8_t>{0x78}, std::vector<std::uint8_t>{0x50, 0x51, 0x50}}) {
    const auto bus = make(kFuncI2c, clients);
    ASSERT_FALSE(bus.has_value());
    EXPECT_EQ(bus.error().kind(), hv::ErrorKind::InvalidArgument);
  }
  const auto null_port = HostI2cBus::create(nullptr, {0x50}, "none");
  ASSERT_FALSE(null_port.has_value());
  EXPECT_EQ(null_port.error().kind(), hv::ErrorKind::InvalidArgument);
  // I2C_FUNC_10BIT_ADDR and I2C_FUNC_SMBUS_PEC only: nothing hvkit can use.
  const auto useless = make(0x00000002 | 0x00000008, {0x50});
  ASSERT_FALSE(useless.has_value());
  EXPECT_EQ(useless.error().kind(), hv::ErrorKind::Unsupported);
  const auto smbus_only = make(kReadByte, {0x50});
  ASSERT_TRUE(smbus_only.has_value());
  EXPECT_FALSE((*smbus_only)->plain_i2c());
  EXPECT_TRUE((*smbus_only)->serves(0x50));
  EXPECT_FALSE((*smbus_only)->serves(0x51));
}

TEST(HostI2cBusCreate, AFailingI2cFuncsQueryIsReported) {
  auto adapter = std::make_shared<FakeAdapter>();
  adapter->fail_calls_from = 0;
  const auto bus = HostI2cBus::create(std::make_unique<FakePort>(adapter), {0x50}, "/dev/i2c-fake");
  ASSERT_FALSE(bus.has_value());
  EXPECT_EQ(bus.error().sys_errno(), EIO);
}

TEST(HostI2cBusPlainI2c, ATransactionIsOneI2cRdwr) {
  Fixture f(kFuncI2c | kAllSmbus, {0x50, 0x51});
  ASSERT_TRUE(f.bus->plain_i2c());
  Bytes pointer{0x10};
  Bytes read(4);
  Bytes write{0x20, 0xaa};
  EXPECT_EQ(f.run({write_to(0x50, pointer), read_from(0x50, read), write_to(0x51, write)}), 3U);
  EXPECT_EQ(f.calls(), (Calls{"rdwr w50:1 r50:4 w51:2"}));
  EXPECT_EQ(read, (Bytes{0x10, 0x11, 0x12, 0x13}));
  EXPECT_EQ(f.client(0x51).registers[0x20], 0xaa);
}

TEST(HostI2cBusPlainI2c, AnUnlistedAddressNeverReachesThePort) {
  Fixture f(kFuncI2c, {0x50});
  Bytes byte{0x00, 0x99};
  EXPECT_EQ(f.run({write_to(0x51, byte)}), 0U);
  EXPECT_TRUE(f.calls().empty());
  // Listed messages before it are one transaction; it and everything after are not executed.
  EXPECT_EQ(f.run({write_to(0x50, byte), write_to(0x51, byte), write_to(0x50, byte)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"rdwr w50:2"}));
  EXPECT_EQ(f.client(0x51).registers[0], 0x00) << "the unlisted client was not written";
}

TEST(HostI2cBusPlainI2c, APortErrorFailsTheWholeTransaction) {
  Fixture f(kFuncI2c, {0x50});
  f.adapter->fail_calls_from = 0;
  Bytes byte{0x00};
  Bytes read(1);
  EXPECT_EQ(f.run({write_to(0x50, byte), read_from(0x50, read)}), 0U);
  EXPECT_EQ(f.calls().size(), 1U);
}

TEST(HostI2cBusPlainI2c, OverlongMessagesAndTransactionsAreBounded) {
  Fixture f(kFuncI2c, {0x50});
  Bytes huge(hv::dev::kI2cMaxMessageBytes + 1);
  Bytes byte{0x00};
  EXPECT_EQ(f.run({write_to(0x50, byte), write_to(0x50, huge)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"rdwr w50:1"}));
  f.calls().clear();
  const std::vector<I2cMessage> many(hv::dev::kI2cMaxTransactionMessages + 1, write_to(0x50, byte));
  EXPECT_EQ(f.bus->transfer(many), hv::dev::kI2cMaxTransactionMessages);
  ASSERT_EQ(f.calls().size(), 1U);
  EXPECT_EQ(std::count(f.calls()[0].begin(), f.calls()[0].end(), ':'), 42) << "one \"w50:1\" per message";
}

// Each SMBus shape: the exact I2C_SLAVE and I2C_SMBUS calls, and what the client saw or answered.
TEST(HostI2cBusSmbus, QuickWrite) {
  Fixture f(kAllSmbus);
  Bytes none;
  EXPECT_EQ(f.run({write_to(0x50, none)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=00 size=0"}));
}

TEST(HostI2cBusSmbus, ReceiveByte) {
  Fixture f(kAllSmbus);
  f.client(0x50).pointer = 0x33;
  Bytes read(1);
  EXPECT_EQ(f.run({read_from(0x50, read)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus R cmd=00 size=1"}));
  EXPECT_EQ(read[0], 0x33);
}

TEST(HostI2cBusSmbus, SendByte) {
  Fixture f(kAllSmbus);
  Bytes write{0x44};
  EXPECT_EQ(f.run({write_to(0x50, write)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=44 size=1"}));
  EXPECT_EQ(f.client(0x50).pointer, 0x44);
}

TEST(HostI2cBusSmbus, WriteByteData) {
  Fixture f(kAllSmbus);
  Bytes write{0x10, 0xab};
  EXPECT_EQ(f.run({write_to(0x50, write)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=10 size=2 data=ab"}));
  EXPECT_EQ(f.client(0x50).registers[0x10], 0xab);
}

TEST(HostI2cBusSmbus, WriteWordDataSendsTheLowByteFirst) {
  Fixture f(kAllSmbus);
  Bytes write{0x10, 0x34, 0x12};  // on the wire: command, 0x34, 0x12
  EXPECT_EQ(f.run({write_to(0x50, write)}), 1U);
  // The union's word is host-endian (x86-64: little), so its bytes read 34 12.
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=10 size=3 data=3412"}));
  EXPECT_EQ(f.client(0x50).registers[0x10], 0x34);
  EXPECT_EQ(f.client(0x50).registers[0x11], 0x12);
}

TEST(HostI2cBusSmbus, I2cBlockWrite) {
  Fixture f(kAllSmbus);
  Bytes write{0x80, 1, 2, 3, 4, 5};
  EXPECT_EQ(f.run({write_to(0x50, write)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=80 size=8 data=050102030405"}));
  EXPECT_EQ(f.client(0x50).registers[0x84], 5);
  // 32 data bytes is the most; 33 is no SMBus shape and fails untouched.
  f.calls().clear();
  Bytes most(33, 0x07);
  Bytes too_many(34, 0x07);
  EXPECT_EQ(f.run({write_to(0x50, most)}), 1U);
  EXPECT_EQ(f.calls().size(), 2U);
  f.calls().clear();
  EXPECT_EQ(f.run({write_to(0x50, too_many)}), 0U);
  EXPECT_TRUE(f.calls().empty());
}

TEST(HostI2cBusSmbus, ReadByteData) {
  Fixture f(kAllSmbus);
  Bytes command{0x21};
  Bytes read(1);
  EXPECT_EQ(f.run({write_to(0x50, command), read_from(0x50, read)}), 2U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus R cmd=21 size=2"}));
  EXPECT_EQ(read[0], 0x21);
}

TEST(HostI2cBusSmbus, ReadWordData) {
  Fixture f(kAllSmbus);
  Bytes command{0x21};
  Bytes read(2);
  EXPECT_EQ(f.run({write_to(0x50, command), read_from(0x50, read)}), 2U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus R cmd=21 size=3"}));
  EXPECT_EQ(read, (Bytes{0x21, 0x22})) << "low byte first, as on the wire";
}

TEST(HostI2cBusSmbus, I2cBlockRead) {
  Fixture f(kAllSmbus);
  Bytes command{0x40};
  Bytes read(5);
  EXPECT_EQ(f.run({write_to(0x50, command), read_from(0x50, read)}), 2U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus R cmd=40 size=8 data=05"}));
  EXPECT_EQ(read, (Bytes{0x40, 0x41, 0x42, 0x43, 0x44}));
}

TEST(HostI2cBusSmbus, ByteAndWordFallBackToI2cBlockWhenTheAdapterLacksThem) {
  Fixture f(kReadI2cBlock | kWriteI2cBlock);
  Bytes command{0x21};
  Bytes read(2);
  Bytes write{0x10, 0x34, 0x12};
  EXPECT_EQ(f.run({write_to(0x50, command), read_from(0x50, read), write_to(0x50, write)}), 3U);
  EXPECT_EQ(f.calls(),
            (Calls{"target 50", "smbus R cmd=21 size=8 data=02", "target 50", "smbus W cmd=10 size=8 data=023412"}));
  EXPECT_EQ(read, (Bytes{0x21, 0x22}));
}

TEST(HostI2cBusSmbus, AShapeTheAdapterLacksFailsWithoutTouchingIt) {
  Fixture f(kReadByte);  // receive byte only
  Bytes write{0x10, 0xab};
  Bytes none;
  Bytes read(1);
  EXPECT_EQ(f.run({read_from(0x50, read), write_to(0x50, write)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus R cmd=00 size=1"}));
  f.calls().clear();
  EXPECT_EQ(f.run({write_to(0x50, none)}), 0U);
  EXPECT_TRUE(f.calls().empty());
}

TEST(HostI2cBusSmbus, ShapesSmbusDoesNotHaveFail) {
  Fixture f(kAllSmbus, {0x50, 0x51});
  Bytes command{0x10};
  Bytes two{0x10, 0x11};
  Bytes none;
  Bytes read(2);
  Bytes long_read(33);
  const std::vector<std::vector<I2cMessage>> refused{
      {read_from(0x50, read)},                                // a read of more than one byte alone
      {read_from(0x50, none)},                                // a zero-length read
      {write_to(0x50, command), read_from(0x50, long_read)},  // a block read over 32 bytes
      {write_to(0x50, command), read_from(0x50, none)},       // a command, then a zero-length read
      {write_to(0x50, command), read_from(0x51, read)},       // a command to one client, a read of another
  };
  for (const auto& messages : refused) {
    EXPECT_EQ(f.bus->transfer(messages), 0U);
    EXPECT_TRUE(f.calls().empty()) << f.calls().front();
    f.calls().clear();
  }
  // A two-byte write is a shape of its own (write byte data); the read after it is not one.
  EXPECT_EQ(f.run({write_to(0x50, two), read_from(0x50, read)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=10 size=2 data=11"}));
}

TEST(HostI2cBusSmbus, ACommandWhoseReadIsUnlistedIsNotSentAlone) {
  Fixture f(kAllSmbus, {0x50});
  Bytes command{0x10};
  Bytes read(1);
  EXPECT_EQ(f.run({write_to(0x50, command), read_from(0x51, read)}), 0U);
  EXPECT_TRUE(f.calls().empty());
}

TEST(HostI2cBusSmbus, AnUnlistedAddressNeverReachesThePort) {
  Fixture f(kAllSmbus, {0x50});
  Bytes write{0x00, 0x99};
  EXPECT_EQ(f.run({write_to(0x50, write), write_to(0x51, write), write_to(0x50, write)}), 1U);
  EXPECT_EQ(f.calls(), (Calls{"target 50", "smbus W cmd=00 size=2 data=99"}));
  EXPECT_EQ(f.client(0x51).registers[0], 0x00);
}

TEST(HostI2cBusSmbus, APortErrorFailsThatMessageAndStops) {
  Fixture f(kAllSmbus, {0x50});
  Bytes first{0x01, 0xaa};
  Bytes second{0x02, 0xbb};
  Bytes third{0x03, 0xcc};
  f.adapter->fail_calls_from = 3;  // the second message's I2C_SMBUS
  EXPECT_EQ(f.run({write_to(0x50, first), write_to(0x50, second), write_to(0x50, third)}), 1U);
  EXPECT_EQ(f.calls(),
            (Calls{"target 50", "smbus W cmd=01 size=2 data=aa", "target 50", "smbus W cmd=02 size=2 data=bb"}));
  f.calls().clear();
  f.adapter->fail_calls_from = 0;  // I2C_SLAVE fails (a kernel driver owns the address: EBUSY)
  EXPECT_EQ(f.run({write_to(0x50, first)}), 0U);
  EXPECT_EQ(f.calls(), (Calls{"target 50"}));
}

}  // namespace
