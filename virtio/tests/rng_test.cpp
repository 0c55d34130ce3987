// virtio-rng through the virtio-mmio transport and a mock driver: random bytes land in the driver's
// writable buffers with the right used lengths, a huge request is capped, a broken queue stops the
// device until reset, and the used-buffer interrupt is raised.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint64_t kRings = 0x10000, kData = 0x80000;

class Line final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

class RngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x200000};
    memory_ = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
    rng_ = std::make_shared<RngDevice>();
    transport_ = std::make_unique<MmioTransport>(shared_memory_, rng_, shared_line_);
  }
  void wr(std::uint64_t offset, std::uint32_t v) {
    std::uint8_t b[4];
    std::memcpy(b, &v, 4);
    transport_->write(offset, b);
  }
  // The driver's side of initialization, register by register.
  void bring_up(const SplitQueueConfig& c) {
    wr(0x70, 1);
    wr(0x70, 3);
    wr(0x24, 1);
    wr(0x20, 1);  // VERSION_1
    wr(0x70, 11);
    wr(0x30, 0);
    wr(0x38, c.size);
    wr(0x80, static_cast<std::uint32_t>(c.descriptor_table));
    wr(0x90, static_cast<std::uint32_t>(c.available_ring));
    wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
    wr(0x44, 1);
    wr(0x70, 15);
    ASSERT_EQ(transport_->status(), 15U);
  }
  bool all_zero(std::uint64_t gpa, std::size_t n) {
    std::vector<std::uint8_t> bytes(n);
    EXPECT_TRUE(memory_.read(gpa, bytes));
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
  }
  // The transport and the device share the memory; the tests use it through memory_.
  std::shared_ptr<hv::GuestMemory> shared_memory_ = std::make_shared<hv::GuestMemory>();
  hv::GuestMemory& memory_ = *shared_memory_;
  std::shared_ptr<RngDevice> rng_;
  std::shared_ptr<Line> shared_line_ = std::make_shared<Line>();
  Line& line_ = *shared_line_;
  std::unique_ptr<MmioTransport> transport_;
};

TEST_F(RngTest, ActivationWithoutTheRequestQueueIsAProtocolViolation) {
  // The driver set DRIVER_OK without making queue 0 ready.
  RngDevice rng;
  auto r = rng.activate(shared_memory_, 0, {}, DeviceSignals{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation) << r.error().to_string();
}

TEST_F(RngTest, FillsWritableBuffersAndInterrupts) {
  MockSplitDriver driver(memory_, kRings, 16);
  bring_up(driver.config());
  const BufferSpec small[] = {{kData, 32, true}};
  const BufferSpec split[] = {{kData + 0x1000, 100, true}, {kData + 0x2000, 5000, true}};
  driver.make_available(driver.add_chain(small));
  driver.make_available(driver.add_chain(split));
  wr(0x50, 0);
  ASSERT_EQ(driver.used_index(), 2);
  EXPECT_EQ(driver.used(0).length, 32U);
  EXPECT_EQ(driver.used(1).length, 5100U);
  EXPECT_FALSE(all_zero(kData, 32));  // 256 random bits all zero: probability 2^-256
  EXPECT_FALSE(all_zero(kData + 0x2000 + 4900, 100));
  EXPECT_TRUE(line_.level);
}

TEST_F(RngTest, AHugeRequestIsCapped) {
  MockSplitDriver driver(memory_, kRings, 16);
  bring_up(driver.config());
  const BufferSpec huge[] = {{kData, 0x100000, true}};  // 1 MiB
  driver.make_available(driver.add_chain(huge));
  wr(0x50, 0);
  ASSERT_EQ(driver.used_index(), 1);
  EXPECT_EQ(driver.used(0).length, RngDevice::kMaxBytesPerRequest);
  EXPECT_TRUE(all_zero(kData + RngDevice::kMaxBytesPerRequest, 4096)) << "wrote past the cap";
}

TEST_F(RngTest, ABrokenQueueStopsTheDeviceUntilReset) {
  MockSplitDriver driver(memory_, kRings, 16);
  bring_up(driver.config());
  driver.write_descriptor(driver.config().descriptor_table, 0, kData, 4, 1 | 2, 0);  // loops to itself
  driver.make_available(0);
  wr(0x50, 0);
  EXPECT_TRUE(rng_->broken());
  EXPECT_EQ(driver.used_index(), 0);
  EXPECT_NE(transport_->status() & kStatusDeviceNeedsReset, 0U) << "the driver is told to reset";
  EXPECT_TRUE(line_.level);
  wr(0x70, 0);  // reset
  EXPECT_FALSE(rng_->broken());
  wr(0x50, 0);  // not active: nothing happens
  EXPECT_EQ(driver.used_index(), 0);
}

}  // namespace
