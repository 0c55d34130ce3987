// The virtio-mmio transport (version 2) driven register by register as a driver would: the
// initialization sequence, feature negotiation, queue setup and validation, notifications and
// interrupts, illegal status transitions, and reset dropping everything.
#include <gtest/gtest.h>

#include <cstring>

#include "device_test_support.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;

constexpr std::uint64_t kRings = 0x10000;

class RecordingLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

class FakeDevice final : public VirtioDevice {
 public:
  std::uint32_t device_id() const noexcept override { return 4; }  // entropy source
  std::uint64_t features() const noexcept override { return 1ULL << 5; }
  std::uint64_t ring_features() const noexcept override { return ring; }
  std::uint16_t queue_count() const noexcept override { return 2; }
  std::uint16_t queue_max_size() const noexcept override { return 64; }
  void read_config(std::uint64_t offset, std::span<std::uint8_t> data) override {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(0xc0 + offset + i);
  }
  void write_config(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    last_config_write = offset + data.size();
  }
  hv::Result<void> activate(std::shared_ptr<const hv::GuestMemory>, std::uint64_t negotiated,
                            std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals given) override {
    ++activations;
    negotiated_features = negotiated;
    active_queues = queues.size();
    packed = !queues.empty() && queues.front().second.packed();
    signals = std::move(given);
    if (fail_activation) return hv::fail(hv::ErrorKind::InvalidArgument, "activate", "refused");
    return {};
  }
  void notify(std::uint16_t index) override { notified.push_back(index); }
  void reset() override { ++resets; }

  int activations = 0, resets = 0;
  std::uint64_t ring = kFeatureIndirectDesc | kFeatureEventIdx | kFeatureRingPacked;
  std::uint64_t negotiated_features = 0;
  std::size_t active_queues = 0;
  bool packed = false, fail_activation = false;
  std::uint64_t last_config_write = 0;
  std::vector<std::uint16_t> notified;
  DeviceSignals signals;
};

class MmioTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x100000};
    memory_ = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
    device_ = std::make_shared<FakeDevice>();
    transport_ = std::make_unique<MmioTransport>(shared_memory_, device_, shared_line_);
  }
  std::uint32_t rd(std::uint64_t offset) { return hvtest::mmio_read32(*transport_, offset); }
  void wr(std::uint64_t offset, std::uint32_t v) { hvtest::mmio_write32(*transport_, offset, v); }
  // ACKNOWLEDGE, DRIVER, features, FEATURES_OK: as every driver starts.
  void negotiate(std::uint64_t features) {
    wr(0x70, kStatusAcknowledge);
    wr(0x70, kStatusAcknowledge | kStatusDriver);
    wr(0x24, 0);
    wr(0x20, static_cast<std::uint32_t>(features));
    wr(0x24, 1);
    wr(0x20, static_cast<std::uint32_t>(features >> 32));
    wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  }
  void setup_queue(std::uint32_t index, const SplitQueueConfig& c) {
    wr(0x30, index);
    wr(0x38, c.size);
    wr(0x80, static_cast<std::uint32_t>(c.descriptor_table));
    wr(0x84, static_cast<std::uint32_t>(c.descriptor_table >> 32));
    wr(0x90, static_cast<std::uint32_t>(c.available_ring));
    wr(0x94, 0);
    wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
    wr(0xa4, 0);
    wr(0x44, 1);
  }
  // The transport and the device share the memory; the tests use it through memory_.
  std::shared_ptr<hv::GuestMemory> shared_memory_ = std::make_shared<hv::GuestMemory>();
  hv::GuestMemory& memory_ = *shared_memory_;
  std::shared_ptr<FakeDevice> device_;
  std::shared_ptr<RecordingLine> shared_line_ = std::make_shared<RecordingLine>();
  RecordingLine& line_ = *shared_line_;
  std::unique_ptr<MmioTransport> transport_;
};

TEST_F(MmioTransportTest, IdentityRegisters) {
  EXPECT_EQ(rd(0x000), 0x74726976U);
  EXPECT_EQ(rd(0x004), 2U);
  EXPECT_EQ(rd(0x008), 4U);
  wr(0x14, 0);
  EXPECT_EQ(rd(0x10), (1U << 5) | (1U << 28) | (1U << 29));
  wr(0x14, 1);
  EXPECT_EQ(rd(0x10), 1U | (1U << 2));  // VERSION_1 (32) and RING_PACKED (34)
  wr(0x14, 2);
  EXPECT_EQ(rd(0x10), 0U);
  EXPECT_EQ(rd(0x100), 0xc3c2c1c0U);  // configuration space comes from the device
}

TEST_F(MmioTransportTest, FullInitializationActivatesTheDeviceAndRoutesNotificationsAndInterrupts) {
  negotiate(kFeatureVersion1 | kFeatureEventIdx);
  EXPECT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16, true);
  wr(0x30, 0);
  EXPECT_EQ(rd(0x34), 64U);  // QueueNumMax
  setup_queue(0, driver.config());
  EXPECT_EQ(rd(0x44), 1U);
  wr(0x30, 5);
  EXPECT_EQ(rd(0x34), 0U) << "queue 5 does not exist";
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  ASSERT_EQ(device_->activations, 1);
  EXPECT_EQ(device_->active_queues, 1U);
  EXPECT_FALSE(device_->packed);
  EXPECT_EQ(device_->negotiated_features, kFeatureVersion1 | kFeatureEventIdx);
  wr(0x50, 0);
  wr(0x50, 1);  // queue 1 was never made ready: ignored
  EXPECT_EQ(device_->notified, std::vector<std::uint16_t>{0});
  device_->signals.used_buffers(0);
  EXPECT_EQ(rd(0x60), 1U);
  EXPECT_TRUE(line_.level);
  wr(0x64, 1);
  EXPECT_EQ(rd(0x60), 0U);
  EXPECT_FALSE(line_.level);
}

TEST_F(MmioTransportTest, PackedRingWhenNegotiated) {
  negotiate(kFeatureVersion1 | kFeatureRingPacked);
  SplitQueueConfig c{8, kRings, kRings + 0x1000, kRings + 0x2000,
                     false};  // packed: ring, driver and device event areas
  setup_queue(0, c);
  EXPECT_EQ(rd(0x44), 1U);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_TRUE(device_->packed);
}

TEST_F(MmioTransportTest, IllegalStatusTransitionsAreIgnored) {
  wr(0x70, kStatusDriver);  // DRIVER without ACKNOWLEDGE
  EXPECT_EQ(rd(0x70), 0U);
  wr(0x70, kStatusAcknowledge);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);  // DRIVER_OK before FEATURES_OK
  EXPECT_EQ(rd(0x70), kStatusAcknowledge);
  wr(0x70, kStatusAcknowledge | kStatusDriver);
  wr(0x70, kStatusDriver);  // clearing a bit without a reset
  EXPECT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusDeviceNeedsReset);  // the device's bit
  EXPECT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFailed);  // FAILED is the driver's to set
  EXPECT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver | kStatusFailed);
  EXPECT_EQ(device_->activations, 0);
}

TEST_F(MmioTransportTest, FeaturesNotOfferedOrWithoutVersion1AreNotAccepted) {
  negotiate(kFeatureVersion1 | (1ULL << 40));
  EXPECT_EQ(rd(0x70) & kStatusFeaturesOk, 0U);
  wr(0x70, 0);
  negotiate(1ULL << 5);  // legacy-style: no VERSION_1
  EXPECT_EQ(rd(0x70) & kStatusFeaturesOk, 0U);
}

// A device that serves fewer ring layouts (a vhost-user backend without packed rings) is offered with
// only those: a driver cannot pick RING_PACKED from it, and the feature is refused if it tries.
TEST_F(MmioTransportTest, OnlyTheRingFeaturesTheDeviceServesAreOffered) {
  auto offered = [&] {
    wr(0x14, 0);
    const std::uint64_t low = rd(0x10);
    wr(0x14, 1);
    return low | (std::uint64_t{rd(0x10)} << 32);
  };
  EXPECT_EQ(offered(), (1ULL << 5) | kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureRingPacked);
  device_->ring = kFeatureEventIdx | (1ULL << 35);  // IN_ORDER: not the transport's to offer
  EXPECT_EQ(offered(), (1ULL << 5) | kFeatureVersion1 | kFeatureEventIdx);
  negotiate(kFeatureVersion1 | kFeatureRingPacked);
  EXPECT_EQ(rd(0x70) & kStatusFeaturesOk, 0U);
}

TEST_F(MmioTransportTest, InvalidQueuesReadBackNotReadyAndLateWritesAreIgnored) {
  negotiate(kFeatureVersion1);
  SplitQueueConfig bad{3, kRings, kRings + 0x1000, kRings + 0x2000, false};  // not a power of two
  setup_queue(0, bad);
  EXPECT_EQ(rd(0x44), 0U);
  SplitQueueConfig outside{8, 0x7fff0000, kRings + 0x1000, kRings + 0x2000, false};  // descriptors outside RAM
  setup_queue(0, outside);
  EXPECT_EQ(rd(0x44), 0U);
  wr(0x38, 128);  // above QueueNumMax: ignored
  EXPECT_EQ(rd(0x38), 8U);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  ASSERT_EQ(rd(0x44), 1U);
  wr(0x38, 4);  // a ready queue's registers are frozen
  EXPECT_EQ(rd(0x38), 16U);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  wr(0x30, 1);
  wr(0x38, 16);  // after DRIVER_OK: ignored
  EXPECT_EQ(rd(0x38), 0U);
}

TEST_F(MmioTransportTest, OnlyAligned32BitRegisterAccesses) {
  std::uint8_t two[2] = {1, 0};
  transport_->write(0x70, two);
  EXPECT_EQ(rd(0x70), 0U);
  std::uint8_t b[2] = {0xff, 0xff};
  transport_->read(0x000, b);
  EXPECT_EQ(b[0], 0);
  std::uint8_t four[4] = {1, 0, 0, 0};
  transport_->write(0x71, four);  // misaligned
  EXPECT_EQ(rd(0x70), 0U);
}

TEST_F(MmioTransportTest, ResetDropsEverythingAndResetsTheDevice) {
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  device_->signals.used_buffers(0);
  ASSERT_TRUE(line_.level);
  wr(0x70, 0);
  EXPECT_EQ(device_->resets, 1);
  EXPECT_EQ(rd(0x70), 0U);
  EXPECT_EQ(rd(0x60), 0U);
  EXPECT_FALSE(line_.level);
  wr(0x30, 0);
  EXPECT_EQ(rd(0x44), 0U);
  EXPECT_EQ(rd(0x38), 0U);
  wr(0x50, 0);  // notifications after a reset go nowhere
  EXPECT_TRUE(device_->notified.empty());
}

TEST_F(MmioTransportTest, AFailedActivationAsksForAReset) {
  device_->fail_activation = true;
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_NE(rd(0x70) & kStatusDeviceNeedsReset, 0U);
  EXPECT_EQ(rd(0x60) & 2, 2U);  // a configuration-change interrupt tells the driver
  wr(0x50, 0);
  EXPECT_TRUE(device_->notified.empty());
}

TEST_F(MmioTransportTest, ConfigChangesBumpTheGenerationAndInterruptOnlyALiveDevice) {
  const auto before = rd(0xfc);
  transport_->config_changed();
  EXPECT_EQ(rd(0xfc), before + 1);
  EXPECT_EQ(rd(0x60) & 2, 0U) << "no notification before DRIVER_OK";
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  transport_->config_changed();
  EXPECT_EQ(rd(0x60) & 2, 2U);
}

TEST_F(MmioTransportTest, RefusedFeaturesCannotMakeTheDeviceLiveInTheSameWrite) {
  wr(0x70, kStatusAcknowledge);
  wr(0x70, kStatusAcknowledge | kStatusDriver);
  wr(0x24, 1);
  wr(0x20, 0);  // no VERSION_1
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver);
  EXPECT_EQ(device_->activations, 0);
}

TEST_F(MmioTransportTest, ABrokenQueueSetsNeedsResetAndNotifiesTheDriver) {
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  device_->signals.needs_reset();
  EXPECT_NE(rd(0x70) & kStatusDeviceNeedsReset, 0U);
  EXPECT_EQ(rd(0x60) & 2, 2U);
  wr(0x50, 0);
  EXPECT_TRUE(device_->notified.empty()) << "a device that needs a reset gets no notifications";
  wr(0x70, 0);
  device_->signals.used_buffers(0);  // a late signal after the reset
  EXPECT_EQ(rd(0x60), 0U);
  EXPECT_FALSE(line_.level);
}

TEST_F(MmioTransportTest, QueueNotifyValuesBeyondAQueueIndexAreIgnored) {
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  wr(0x50, 0x10000);  // would be queue 0 if truncated to 16 bits
  EXPECT_TRUE(device_->notified.empty());
}

TEST_F(MmioTransportTest, DestroyingTheTransportResetsTheDevice) {
  // The device outlives the transport (its owner keeps it): it must drop the guest's rings and the
  // transport's callbacks when the transport goes, so it is reset then.
  negotiate(kFeatureVersion1);
  hv::virtio::testing::MockSplitDriver driver(memory_, kRings, 16);
  setup_queue(0, driver.config());
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  ASSERT_EQ(device_->activations, 1);
  ASSERT_EQ(device_->resets, 0);
  transport_.reset();
  EXPECT_EQ(device_->resets, 1);
}

}  // namespace
