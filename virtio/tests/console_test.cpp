// virtio-console through the virtio-mmio transport and a mock driver: guest output reaches the sink,
// host input waits for receive buffers and is delivered, and both directions are bounded.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "hv/virtio/console.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint64_t kRx = 0x10000, kTx = 0x14000, kData = 0x40000;

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x200000};
    memory_ = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
    console_ = std::make_shared<ConsoleDevice>(shared_sink_);
    transport_ = std::make_unique<MmioTransport>(shared_memory_, console_, shared_line_);
    rx_ = std::make_unique<MockSplitDriver>(memory_, kRx, 8);
    tx_ = std::make_unique<MockSplitDriver>(memory_, kTx, 8);
    const auto wr = [this](std::uint64_t offset, std::uint32_t v) {
      std::uint8_t b[4];
      std::memcpy(b, &v, 4);
      transport_->write(offset, b);
    };
    for (auto [reg, value] :
         std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0x70, 1}, {0x70, 3}, {0x24, 1}, {0x20, 1}, {0x70, 11}})
      wr(reg, value);
    for (std::uint32_t q = 0; q < 2; ++q) {
      const auto c = (q == 0 ? rx_ : tx_)->config();
      wr(0x30, q);
      wr(0x38, 8);
      wr(0x80, static_cast<std::uint32_t>(c.descriptor_table));
      wr(0x90, static_cast<std::uint32_t>(c.available_ring));
      wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
      wr(0x44, 1);
    }
    wr(0x70, 15);
    ASSERT_EQ(transport_->status(), 15U);
  }
  void notify(std::uint32_t queue) {
    std::uint8_t b[4];
    std::memcpy(b, &queue, 4);
    transport_->write(0x50, b);
  }
  class Line final : public hv::dev::InterruptLine {
   public:
    void set_level(bool a) override { level = a; }
    bool level = false;
  };
  // The transport and the console share these; the tests use them through the references.
  std::shared_ptr<Line> shared_line_ = std::make_shared<Line>();
  Line& line_ = *shared_line_;
  std::shared_ptr<hv::GuestMemory> shared_memory_ = std::make_shared<hv::GuestMemory>();
  hv::GuestMemory& memory_ = *shared_memory_;
  std::shared_ptr<hv::dev::BufferSink> shared_sink_ = std::make_shared<hv::dev::BufferSink>();
  hv::dev::BufferSink& sink_ = *shared_sink_;
  std::shared_ptr<ConsoleDevice> console_;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<MockSplitDriver> rx_, tx_;
};

TEST_F(ConsoleTest, GuestOutputReachesTheSink) {
  ASSERT_TRUE(
      memory_.write(kData, std::span(reinterpret_cast<const std::uint8_t*>("hello, "), 7)));  // test: text bytes
  ASSERT_TRUE(memory_.write(kData + 0x100, std::span(reinterpret_cast<const std::uint8_t*>("world\n"), 6)));
  const BufferSpec two[] = {{kData, 7, false}, {kData + 0x100, 6, false}};
  tx_->make_available(tx_->add_chain(two));
  notify(1);
  EXPECT_EQ(sink_.contents(), "hello, world\n");
  EXPECT_EQ(tx_->used_index(), 1);
  EXPECT_TRUE(line_.level);
}

TEST_F(ConsoleTest, InputWaitsForReceiveBuffersThenArrives) {
  const std::string text = "typed";
  EXPECT_EQ(console_->enqueue_input(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())), 5U);
  EXPECT_EQ(rx_->used_index(), 0) << "no receive buffer yet";
  const BufferSpec buffer[] = {{kData + 0x1000, 3, true}};
  rx_->make_available(rx_->add_chain(buffer));
  const BufferSpec second[] = {{kData + 0x2000, 64, true}};
  rx_->make_available(rx_->add_chain(second));
  notify(0);
  ASSERT_EQ(rx_->used_index(), 2);
  EXPECT_EQ(rx_->used(0).length, 3U);
  EXPECT_EQ(rx_->used(1).length, 2U);
  char got[5] = {};
  ASSERT_TRUE(memory_.read(kData + 0x1000, std::span(reinterpret_cast<std::uint8_t*>(got), 3)));
  ASSERT_TRUE(memory_.read(kData + 0x2000, std::span(reinterpret_cast<std::uint8_t*>(got + 3), 2)));
  EXPECT_EQ(std::string(got, 5), "typed");
}

TEST_F(ConsoleTest, BothDirectionsAreBounded) {
  const std::vector<std::uint8_t> flood(10000, 'x');
  EXPECT_EQ(console_->enqueue_input(flood), ConsoleDevice::kInputCapacity);
  EXPECT_EQ(console_->enqueue_input(flood), 0U) << "the buffer is full until the guest reads";
  ASSERT_TRUE(memory_.write(kData, std::vector<std::uint8_t>(0x20000, 'y')));
  const BufferSpec big[] = {{kData, 0x20000, false}};  // 128 KiB of output in one request
  tx_->make_available(tx_->add_chain(big));
  notify(1);
  EXPECT_EQ(sink_.contents().size(), ConsoleDevice::kMaxOutputPerRequest);
}

// A driver that breaks the transmit queue (a descriptor chained to itself) stops the device: nothing
// reaches the sink, the driver is told to reset, and host input waits rather than being delivered.
TEST_F(ConsoleTest, ABrokenQueueStopsTheConsoleUntilReset) {
  tx_->write_descriptor(tx_->config().descriptor_table, 0, kData, 4, 1, 0);  // NEXT, to itself
  tx_->make_available(0);
  notify(1);
  EXPECT_TRUE(sink_.contents().empty());
  EXPECT_EQ(tx_->used_index(), 0);
  EXPECT_NE(transport_->status() & kStatusDeviceNeedsReset, 0U) << "the driver is told to reset";
  const BufferSpec buffer[] = {{kData + 0x1000, 8, true}};
  rx_->make_available(rx_->add_chain(buffer));
  const std::string text = "in";
  console_->enqueue_input(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  notify(0);
  EXPECT_EQ(rx_->used_index(), 0) << "a broken device delivers nothing until reset";
}

}  // namespace
