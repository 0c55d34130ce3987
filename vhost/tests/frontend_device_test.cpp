// The vhost-user device proxy against a scripted backend: what the guest is offered, the activation
// sequence QEMU sends, kicks and calls through the eventfds, stop and reset with the positions the
// backend reports, and a backend that dies or lies.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <string>
#include <vector>

#include "hv/event_fd.hpp"
#include "hv/vhost/frontend_device.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "scripted_backend.hpp"

namespace hv::vhost {
namespace {

using testing::Misbehave;
using testing::ScriptedBackend;
namespace pf = protocol_feature;

constexpr std::uint32_t code(Request r) { return static_cast<std::uint32_t>(r); }
constexpr std::uint64_t kRings = 0x10000;

FrontendOptions quick() {
  FrontendOptions o;
  o.timeout = std::chrono::milliseconds(200);
  return o;
}

ScriptedBackend::Script blk_script() {
  ScriptedBackend::Script s;
  // VERSION_1, PROTOCOL_FEATURES, VHOST_F_LOG_ALL (26), EVENT_IDX, INDIRECT_DESC, SIZE_MAX (1), FLUSH (9):
  // what qemu-storage-daemon offers, without packed rings.
  s.features = (1ULL << 32) | (1ULL << 30) | (1ULL << 26) | virtio::kFeatureEventIdx | virtio::kFeatureIndirectDesc |
               (1ULL << 1) | (1ULL << 9);
  s.protocol_features = pf::kReplyAck | pf::kConfig | pf::kStatus | pf::kResetDevice | pf::kMq;
  s.queue_num = 4;
  s.config.resize(60);
  s.config[0] = 0x00;
  s.config[1] = 0x08;  // capacity 2048 sectors
  return s;
}

struct Counters {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::uint16_t> used;
  int needs_reset = 0;
  int disconnects = 0;
  std::string disconnect_message;

  virtio::DeviceSignals signals() {
    return {[this](std::uint16_t q) {
              std::lock_guard lock(mutex);
              used.push_back(q);
              changed.notify_all();
            },
            [this] {
              std::lock_guard lock(mutex);
              ++needs_reset;
              changed.notify_all();
            }};
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), pred);
  }
};

class VhostUserDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const RegionSpec spec{0, 0x100000};
    auto memory = GuestMemory::create(std::span(&spec, 1), Backing::Memfd);
    ASSERT_TRUE(memory);
    memory_ = std::make_shared<const GuestMemory>(std::move(*memory));
  }
  std::shared_ptr<VhostUserDevice> make(ScriptedBackend& backend, VhostUserDeviceOptions options) {
    auto f = Frontend::start(backend.take_channel(), quick());
    EXPECT_TRUE(f) << f.error().to_string();
    if (!f) return nullptr;
    options.on_disconnect = [this](const Error& e, bool) {
      std::lock_guard lock(counters_.mutex);
      ++counters_.disconnects;
      counters_.disconnect_message = e.to_string();
      counters_.changed.notify_all();
    };
    auto d = VhostUserDevice::create(std::move(*f), std::move(options), "test.sock");
    EXPECT_TRUE(d) << d.error().to_string();
    return d ? *d : nullptr;
  }
  std::vector<std::pair<std::uint16_t, virtio::Queue>> one_split_queue(std::uint16_t next_avail = 0) {
    auto q = virtio::SplitQueue::restore(*memory_, {8, kRings, kRings + 0x1000, kRings + 0x2000, false},
                                         {next_avail, next_avail});
    EXPECT_TRUE(q);
    std::vector<std::pair<std::uint16_t, virtio::Queue>> queues;
    queues.emplace_back(0, virtio::Queue(*q));
    return queues;
  }
  std::uint64_t host(std::uint64_t gpa) const {
    return std::bit_cast<std::uintptr_t>(memory_->regions()[0]->host().data()) + gpa;
  }

  std::shared_ptr<const GuestMemory> memory_;
  Counters counters_;
};

TEST_F(VhostUserDeviceTest, OffersTheGuestOnlyWhatTheBackendOfferedAndTheTransportSupports) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  EXPECT_EQ(device->device_id(), 2U);
  EXPECT_EQ(device->features(), (1ULL << 1) | (1ULL << 9)) << "no bit 26, no bit 30";
  EXPECT_EQ(device->ring_features(), virtio::kFeatureEventIdx | virtio::kFeatureIndirectDesc) << "no packed rings";
  EXPECT_EQ(device->queue_count(), 1) << "GET_QUEUE_NUM said 4; the blk proxy exposes one queue";
  // Through the transport, as a driver reads DeviceFeatures.
  struct Line final : dev::InterruptLine {
    void set_level(bool) override {}
  };
  virtio::MmioTransport transport(memory_, device, std::make_shared<Line>());
  auto rd = [&](std::uint64_t offset) {
    std::array<std::uint8_t, 4> b{};
    transport.read(offset, b);
    std::uint32_t v;
    std::memcpy(&v, b.data(), 4);
    return v;
  };
  auto wr = [&](std::uint64_t offset, std::uint32_t v) {
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &v, 4);
    transport.write(offset, b);
  };
  wr(0x14, 0);
  const std::uint64_t low = rd(0x10);
  wr(0x14, 1);
  const std::uint64_t offered = low | (std::uint64_t{rd(0x10)} << 32);
  EXPECT_EQ(offered,
            (1ULL << 1) | (1ULL << 9) | (1ULL << 32) | virtio::kFeatureEventIdx | virtio::kFeatureIndirectDesc);
  // The configuration space is the backend's GET_CONFIG answer: capacity 2048.
  EXPECT_EQ(rd(0x100), 2048U);
  EXPECT_EQ(rd(0x100 + 60), 0U) << "beyond the 60 bytes read: zero";
}

TEST_F(VhostUserDeviceTest, BackendWithoutVersion1IsRefused) {
  auto script = blk_script();
  script.features &= ~(1ULL << 32);
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto d = VhostUserDevice::create(std::move(*f), vhost_user_blk_options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().kind(), ErrorKind::Unsupported);
}

TEST_F(VhostUserDeviceTest, OversizedOrShortConfigAtCreationIsRefused) {
  auto script = blk_script();
  ConfigHeader h{0, 300, 0};
  std::vector<std::uint8_t> payload(sizeof h + 300, 0xab);
  std::memcpy(payload.data(), &h, sizeof h);
  script.replace.emplace(code(Request::GetConfig), testing::RawReply{{code(Request::GetConfig), kVersion | kFlagReply,
                                                                      static_cast<std::uint32_t>(payload.size())},
                                                                     payload});
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto d = VhostUserDevice::create(std::move(*f), vhost_user_blk_options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().kind(), ErrorKind::ProtocolViolation);
}

TEST_F(VhostUserDeviceTest, ActivationSendsWhatQemuSendsAndKicksAndCallsFlow) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  const std::uint64_t features = (1ULL << 32) | (1ULL << 9);
  ASSERT_TRUE(device->activate(memory_, features, one_split_queue(5), counters_.signals()));
  const std::vector<std::uint32_t> activation = {
      code(Request::SetFeatures),  code(Request::SetMemTable),    code(Request::SetVringNum),
      code(Request::SetVringBase), code(Request::SetVringAddr),   code(Request::SetVringKick),
      code(Request::SetVringCall), code(Request::SetVringEnable), code(Request::SetStatus)};
  auto all = backend.requests();
  ASSERT_GE(all.size(), activation.size());
  EXPECT_EQ(std::vector<std::uint32_t>(all.end() - static_cast<std::ptrdiff_t>(activation.size()), all.end()),
            activation);
  EXPECT_EQ(*payload_as<std::uint64_t>(*backend.last(Request::SetFeatures)), features | (1ULL << 30));
  auto num = payload_as<VringState>(*backend.last(Request::SetVringNum));
  EXPECT_EQ(num->num, 8U);
  EXPECT_EQ(payload_as<VringState>(*backend.last(Request::SetVringBase))->num, 5U) << "the queue's position";
  auto addr = payload_as<VringAddr>(*backend.last(Request::SetVringAddr));
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->descriptor, host(kRings)) << "ring addresses in this process, not guest-physical";
  EXPECT_EQ(addr->available, host(kRings + 0x1000));
  EXPECT_EQ(addr->used, host(kRings + 0x2000));
  EXPECT_EQ(payload_as<std::uint64_t>(*backend.last(Request::SetStatus)).value(), 15U);
  // Kick: notify() writes the eventfd the backend got.
  auto kick = backend.last(Request::SetVringKick);
  ASSERT_EQ(kick->fds.size(), 1U);
  auto kick_fd = EventFd::duplicate(kick->fds[0].get());
  ASSERT_TRUE(kick_fd);
  device->notify(0);
  device->notify(7);  // no such queue: ignored
  auto kicked = kick_fd->consume();
  ASSERT_TRUE(kicked);
  EXPECT_EQ(*kicked, 1U);
  // Call: the backend's write to the call eventfd is a used-buffer signal for queue 0.
  auto call = backend.last(Request::SetVringCall);
  ASSERT_EQ(call->fds.size(), 1U);
  ASSERT_TRUE(EventFd::duplicate(call->fds[0].get())->signal());
  ASSERT_TRUE(counters_.wait([&] { return !counters_.used.empty(); }));
  EXPECT_EQ(counters_.used.front(), 0);
  device->reset();
  EXPECT_EQ(counters_.needs_reset, 0);
  EXPECT_EQ(counters_.disconnects, 0);
}

TEST_F(VhostUserDeviceTest, ResetStopsEachRingAndResetsTheDevice) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  device->reset();
  EXPECT_EQ(backend.count(Request::GetVringBase), 1U);
  EXPECT_EQ(backend.count(Request::ResetDevice), 1U);
  EXPECT_EQ(payload_as<std::uint64_t>(*backend.last(Request::SetStatus)).value(), 0U);
  EXPECT_EQ(backend.count(Request::ResetOwner), 0U) << "deprecated: never sent";
  // Activated again after a reset, the same connection serves.
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  EXPECT_EQ(backend.count(Request::SetMemTable), 2U);
}

TEST_F(VhostUserDeviceTest, StopReturnsTheQueuesAtTheBackendsPositions) {
  auto script = blk_script();
  script.vring_base = 3;
  ScriptedBackend backend(script);
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  // The backend published used index 3 in the ring.
  ASSERT_TRUE(memory_->store<std::uint16_t>(kRings + 0x2000 + 2, 3, std::memory_order_release));
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  auto queues = device->stop();
  ASSERT_TRUE(queues) << queues.error().to_string();
  ASSERT_EQ(queues->size(), 1U);
  const auto& split = std::get<virtio::SplitQueue>(queues->front().second.layout());
  EXPECT_EQ(split.state(), (virtio::SplitQueueState{3, 3}));
  EXPECT_EQ(backend.count(Request::ResetDevice), 0U) << "stop keeps the device for a new activation";
}

TEST_F(VhostUserDeviceTest, ImpossibleSplitPositionFromGetVringBaseIsAnError) {
  auto script = blk_script();
  script.vring_base = 0x10000;
  ScriptedBackend backend(script);
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  auto queues = device->stop();
  ASSERT_FALSE(queues);
  EXPECT_EQ(queues.error().kind(), ErrorKind::ProtocolViolation);
}

TEST_F(VhostUserDeviceTest, BackendDeathSignalsNeedsResetOnceAndTheVmGoesOn) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  backend.die();
  ASSERT_TRUE(counters_.wait([&] { return counters_.needs_reset > 0 && counters_.disconnects > 0; }));
  EXPECT_NE(counters_.disconnect_message.find("closed the connection"), std::string::npos)
      << counters_.disconnect_message;
  // The driver's reset, and everything after it, fails fast and reports nothing twice.
  device->notify(0);
  device->reset();
  EXPECT_FALSE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  std::array<std::uint8_t, 1> wce{1};
  device->write_config(32, wce);
  EXPECT_EQ(counters_.needs_reset, 1);
  EXPECT_EQ(counters_.disconnects, 1);
  EXPECT_FALSE(device->connected());
}

TEST_F(VhostUserDeviceTest, BackendSilentDuringActivationFailsItWithinTheTimeout) {
  auto script = blk_script();
  script.misbehave[code(Request::SetMemTable)] = Misbehave::Silence;
  ScriptedBackend backend(script);
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  auto r = device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Busy);
  EXPECT_EQ(counters_.disconnects, 1);
  EXPECT_FALSE(device->connected());
}

// A refusal (REPLY_ACK 1) keeps the connection: no on_disconnect, so the refusal itself must be
// reported, once, naming the request (the transport's DEVICE_NEEDS_RESET says nothing).
TEST_F(VhostUserDeviceTest, ARefusedStartSequenceIsReportedOnceWithTheRequest) {
  auto script = blk_script();
  script.nack[code(Request::SetVringAddr)] = 1;
  ScriptedBackend backend(script);
  auto options = vhost_user_blk_options();
  std::vector<std::string> reported;
  options.on_activation_failed = [&](const Error& e) { reported.push_back(e.to_string()); };
  auto device = make(backend, std::move(options));
  ASSERT_TRUE(device);
  auto r = device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals());
  ASSERT_FALSE(r);
  ASSERT_EQ(reported.size(), 1U);
  EXPECT_NE(reported[0].find("SET_VRING_ADDR"), std::string::npos) << reported[0];
  EXPECT_EQ(counters_.disconnects, 0);
  EXPECT_TRUE(device->connected());
}

// A lost connection is reported by on_disconnect only, not twice.
TEST_F(VhostUserDeviceTest, ALostConnectionDuringActivationIsNotAlsoReportedAsARefusal) {
  auto script = blk_script();
  script.misbehave[code(Request::SetMemTable)] = Misbehave::HangUp;
  ScriptedBackend backend(script);
  auto options = vhost_user_blk_options();
  int reported = 0;
  options.on_activation_failed = [&](const Error&) { ++reported; };
  auto device = make(backend, std::move(options));
  ASSERT_TRUE(device);
  ASSERT_FALSE(device->activate(memory_, 1ULL << 32, one_split_queue(), counters_.signals()));
  EXPECT_EQ(reported, 0);
  EXPECT_EQ(counters_.disconnects, 1);
}

TEST_F(VhostUserDeviceTest, ActivationWithUnofferedFeaturesIsRefused) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  auto r = device->activate(memory_, (1ULL << 32) | virtio::kFeatureRingPacked, one_split_queue(), counters_.signals());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(backend.count(Request::SetFeatures), 0U);
}

TEST_F(VhostUserDeviceTest, ConfigWritesGoToTheBackendOnlyInsideTheSpaceRead) {
  ScriptedBackend backend(blk_script());
  auto device = make(backend, vhost_user_blk_options());
  ASSERT_TRUE(device);
  std::array<std::uint8_t, 1> wce{1};
  device->write_config(32, wce);
  auto sent = backend.last(Request::SetConfig);
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->payload.size(), sizeof(ConfigHeader) + 1);
  EXPECT_EQ(sent->payload.back(), 1);
  std::array<std::uint8_t, 1> back{};
  device->read_config(32, back);
  EXPECT_EQ(back[0], 1);
  std::array<std::uint8_t, 4> outside{};
  device->write_config(58, outside);  // crosses the end of the 60 bytes
  device->write_config(4096, outside);
  EXPECT_EQ(backend.count(Request::SetConfig), 1U);
}

TEST_F(VhostUserDeviceTest, RngHasNoConfigSpace) {
  auto script = blk_script();
  script.protocol_features = 0;  // no CONFIG: fine for rng
  ScriptedBackend backend(script);
  auto device = make(backend, vhost_user_rng_options());
  ASSERT_TRUE(device);
  EXPECT_EQ(device->device_id(), 4U);
  EXPECT_EQ(backend.count(Request::GetConfig), 0U);
  std::array<std::uint8_t, 4> data{9, 9, 9, 9};
  device->read_config(0, data);  // the transport zeroes first; the proxy adds nothing
  EXPECT_EQ(data[0], 9);
}

}  // namespace
}  // namespace hv::vhost
