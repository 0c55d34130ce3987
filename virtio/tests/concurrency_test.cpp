// The virtio-mmio transport reached from several threads at once: vCPUs writing its registers, and a
// device completing requests on its own thread while vCPUs acknowledge interrupts. Each test checks
// what must hold under every interleaving; none depends on timing. The tsan preset runs them under
// ThreadSanitizer (CTest label `concurrency`, `ctest --preset tsan`), which reports any interleaving
// that is a data race.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "device_test_support.hpp"
#include "hv/testing/recording_vm.hpp"
#include "hv/testing/run_threads.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;

// Few threads and rounds: the machine has two cores, and ThreadSanitizer runs code ~10 times slower.
constexpr int kThreads = 4;
constexpr int kRounds = 2000;
constexpr std::uint64_t kRings = 0x10000;
constexpr std::uint64_t kQueueSel = 0x30, kQueueNumMax = 0x34, kQueueNum = 0x38, kQueueReady = 0x44,
                        kQueueDescLow = 0x80, kDeviceFeatures = 0x10, kDeviceFeaturesSel = 0x14,
                        kInterruptStatus = 0x60, kInterruptAck = 0x64, kStatus = 0x70;
constexpr std::uint32_t kNegotiated = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk;

// A device that only keeps what the transport gives it: its signals, to complete "requests" from a
// test thread.
class SignallingDevice final : public VirtioDevice {
 public:
  std::uint32_t device_id() const noexcept override { return 4; }
  std::uint64_t features() const noexcept override { return 0; }
  std::uint16_t queue_count() const noexcept override { return 2; }
  std::uint16_t queue_max_size() const noexcept override { return 64; }
  void read_config(std::uint64_t, std::span<std::uint8_t> data) override { std::memset(data.data(), 0, data.size()); }
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}
  hv::Result<void> activate(std::shared_ptr<const hv::GuestMemory>, std::uint64_t,
                            std::vector<std::pair<std::uint16_t, Queue>>, DeviceSignals given) override {
    signals = std::move(given);
    return {};
  }
  void notify(std::uint16_t) override {}
  void reset() override {}
  DeviceSignals signals;
};

class MmioTransportConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x100000};
    auto memory = hv::GuestMemory::create(std::span(&spec, 1));
    ASSERT_TRUE(memory);
    shared_memory_ = std::make_shared<hv::GuestMemory>(std::move(*memory));
    device_ = std::make_shared<SignallingDevice>();
    transport_ = std::make_unique<MmioTransport>(shared_memory_, device_, line_);
  }
  std::uint32_t rd(std::uint64_t offset) { return hvtest::mmio_read32(*transport_, offset); }
  void wr(std::uint64_t offset, std::uint32_t v) { hvtest::mmio_write32(*transport_, offset, v); }
  void negotiate() {
    wr(kStatus, kStatusAcknowledge);
    wr(kStatus, kStatusAcknowledge | kStatusDriver);
    wr(0x24, 1);
    wr(0x20, 1);  // VERSION_1
    wr(kStatus, kNegotiated);
    ASSERT_EQ(rd(kStatus), kNegotiated);
  }
  static void run_threads(int n, const std::function<void(int)>& body) { hv::testing::run_threads(n, body); }

  std::shared_ptr<hv::GuestMemory> shared_memory_;
  // Set in SetUp before any use; the mock drivers take it by reference.
  hv::GuestMemory& memory() { return *shared_memory_; }
  std::shared_ptr<SignallingDevice> device_;
  std::shared_ptr<hv::testing::RecordingVm> shared_vm_ = std::make_shared<hv::testing::RecordingVm>();
  hv::testing::RecordingVm& vm_ = *shared_vm_;
  std::shared_ptr<hv::dev::VmInterruptLine> line_ = std::make_shared<hv::dev::VmInterruptLine>(shared_vm_, 16);
  std::unique_ptr<MmioTransport> transport_;
};

TEST_F(MmioTransportConcurrency, RegisterWritesFromSeveralVcpus) {
  // Queue setup from four vCPUs at once. QueueSel is shared, as on hardware, so a QueueNum write may
  // land on the queue another thread selected; but every register reads back some whole value
  // written to it, and the status no thread writes stays as it was.
  negotiate();
  constexpr std::array<std::uint32_t, 4> kSizes = {8, 16, 32, 64};
  const std::array<std::uint32_t, 2> halves = {1U << 28 | 1U << 29, 1U | 1U << 2};  // offered, low and high
  std::array<int, kThreads> unexpected{};
  run_threads(kThreads, [&](int t) {
    auto& bad = unexpected[static_cast<std::size_t>(t)];
    for (int r = 0; r < kRounds; ++r) {
      const auto i = static_cast<std::uint32_t>(t + r);
      wr(kQueueSel, i % 2);
      wr(kQueueNum, kSizes[i % kSizes.size()]);
      wr(kQueueDescLow, 0x1000 * (i % 16));
      const std::uint32_t num = rd(kQueueNum);
      if (num != 0 && std::find(kSizes.begin(), kSizes.end(), num) == kSizes.end()) ++bad;
      if (rd(kQueueNumMax) != 64) ++bad;
      wr(kDeviceFeaturesSel, i % 2);
      const std::uint32_t features = rd(kDeviceFeatures);
      if (features != halves[0] && features != halves[1]) ++bad;
      if (rd(kStatus) != kNegotiated) ++bad;
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(unexpected[static_cast<std::size_t>(t)], 0) << "thread " << t;
  // The queues are still set up like any other: a valid one goes ready, and the device goes live.
  hv::virtio::testing::MockSplitDriver driver(memory(), kRings, 16);
  const SplitQueueConfig c = driver.config();
  wr(kQueueSel, 0);
  wr(kQueueNum, c.size);
  wr(kQueueDescLow, static_cast<std::uint32_t>(c.descriptor_table));
  wr(0x84, 0);
  wr(0x90, static_cast<std::uint32_t>(c.available_ring));
  wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
  wr(kQueueReady, 1);
  EXPECT_EQ(rd(kQueueReady), 1U);
  wr(kStatus, kNegotiated | kStatusDriverOk);
  EXPECT_EQ(rd(kStatus), kNegotiated | kStatusDriverOk);
  EXPECT_TRUE(device_->signals.used_buffers) << "activated";
}

TEST_F(MmioTransportConcurrency, TheLineEndsAtTheLevelTheTransportLastSet) {
  // The device completes requests on its own thread (raising the line) while a vCPU acknowledges the
  // interrupt (lowering it) and another reads registers. The transport calls set_level under its
  // register lock, so the calls on the line are serialised: the kernel ends with the level that
  // matches InterruptStatus, and the levels it was given alternate (VmInterruptLine forwards changes
  // only; two calls that overtook each other would show as the same level twice).
  negotiate();
  hv::virtio::testing::MockSplitDriver driver(memory(), kRings, 16);
  const SplitQueueConfig c = driver.config();
  wr(kQueueSel, 0);
  wr(kQueueNum, c.size);
  wr(kQueueDescLow, static_cast<std::uint32_t>(c.descriptor_table));
  wr(0x90, static_cast<std::uint32_t>(c.available_ring));
  wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
  wr(kQueueReady, 1);
  wr(kStatus, kNegotiated | kStatusDriverOk);
  ASSERT_TRUE(device_->signals.used_buffers);
  std::atomic<int> acknowledgements{0};
  std::atomic<bool> completed{false};
  int bad_status = 0;
  run_threads(3, [&](int t) {
    if (t == 0) {
      // The device: after each completion it waits, without touching the transport, until the vCPU
      // has acknowledged; then only the transport's own lock orders the two threads' set_level
      // calls (ThreadSanitizer would otherwise see them ordered through the next raise's locking,
      // and could miss an unserialised call).
      for (int r = 0; r < kRounds; ++r) {
        const int before = acknowledgements.load();
        device_->signals.used_buffers(0);  // a request completed
        while (acknowledgements.load() == before) std::this_thread::yield();
      }
      completed.store(true);
    } else if (t == 1) {  // the vCPU that acknowledges (the only one: the device waits for it)
      while (!completed.load()) {
        if (const std::uint32_t pending = rd(kInterruptStatus); pending != 0) {
          wr(kInterruptAck, pending);
          acknowledgements.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    } else {  // another vCPU, reading
      for (int r = 0; r < kRounds; ++r) {
        if ((rd(kInterruptStatus) & ~1U) != 0 || rd(kStatus) != (kNegotiated | kStatusDriverOk)) ++bad_status;
      }
    }
  });
  EXPECT_EQ(bad_status, 0);
  const bool pending = rd(kInterruptStatus) != 0;  // a read: it sets no level
  ASSERT_FALSE(vm_.lines.empty());
  EXPECT_EQ(vm_.level(), pending) << "the kernel's level disagrees with InterruptStatus";
  for (std::size_t i = 0; i < vm_.lines.size(); ++i) {
    EXPECT_EQ(vm_.lines[i].first, 16U);
    ASSERT_EQ(vm_.lines[i].second, i % 2 == 0) << "call " << i << " repeats the level before it";
  }
  if (pending) {
    wr(kInterruptAck, 1);
    EXPECT_FALSE(vm_.level());
  }
}

}  // namespace
