// VirtioDevice::stop() for the three devices: it completes every request the device took, returns
// each active queue with its position, leaves the device inactive (a notify then serves nothing), and
// the returned queues activate the device again, which goes on from where it stopped: no request
// served twice, none lost. A vhost-user backend relies on exactly this for GET_VRING_BASE and for a
// memory table replaced while the device runs.
#include <gtest/gtest.h>

#include "device_test_support.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "hv/virtio/block.hpp"
#include "hv/virtio/console.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint64_t kRings = 0x10000, kRings2 = 0x14000, kData = 0x80000;

std::shared_ptr<hv::GuestMemory> make_memory() {
  const hv::RegionSpec spec{0, 0x200000};
  return std::make_shared<hv::GuestMemory>(std::move(*hv::GuestMemory::create(std::span(&spec, 1))));
}

SplitQueueState position(const Queue& q) { return std::get<SplitQueue>(q.layout()).state(); }

std::vector<std::pair<std::uint16_t, Queue>> one_queue(const hv::GuestMemory& memory, const MockSplitDriver& d) {
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  queues.emplace_back(0, Queue(*SplitQueue::create(memory, d.config())));
  return queues;
}

TEST(DeviceStop, InactiveDevicesReturnNoQueues) {
  RngDevice rng;
  auto queues = rng.stop();
  ASSERT_TRUE(queues) << queues.error().to_string();
  EXPECT_TRUE(queues->empty());
}

TEST(DeviceStop, RngReturnsItsQueueWhereItStoppedAndResumesFromThere) {
  auto memory = make_memory();
  MockSplitDriver driver(*memory, kRings, 16);
  RngDevice rng;
  ASSERT_TRUE(rng.activate(memory, 0, one_queue(*memory, driver), DeviceSignals{}));
  const BufferSpec buffer{kData, 16, true};
  driver.make_available(driver.add_chain(std::span(&buffer, 1)));
  rng.notify(0);

  auto stopped = rng.stop();
  ASSERT_TRUE(stopped) << stopped.error().to_string();
  ASSERT_EQ(stopped->size(), 1U);
  EXPECT_EQ(stopped->front().first, 0);
  EXPECT_EQ(position(stopped->front().second), (SplitQueueState{1, 1}));
  EXPECT_EQ(driver.used_index(), 1);

  // Stopped: a request made available now waits ...
  driver.make_available(driver.add_chain(std::span(&buffer, 1)));
  rng.notify(0);
  EXPECT_EQ(driver.used_index(), 1) << "a stopped device served a request";
  // ... until the returned queue is activated again, which takes the second request only.
  ASSERT_TRUE(rng.activate(memory, 0, std::move(*stopped), DeviceSignals{}));
  rng.notify(0);
  EXPECT_EQ(driver.used_index(), 2);
  EXPECT_EQ(driver.used(1).length, 16U);
}

class NullSink final : public hv::dev::ByteSink {
 public:
  void write(std::span<const std::uint8_t> bytes) override { written += bytes.size(); }
  std::size_t written = 0;
};

TEST(DeviceStop, ConsoleReturnsBothQueuesAndKeepsUndeliveredInput) {
  auto memory = make_memory();
  auto sink = std::make_shared<NullSink>();
  ConsoleDevice console(sink);
  MockSplitDriver receive(*memory, kRings, 16), transmit(*memory, kRings2, 16);
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  queues.emplace_back(0, Queue(*SplitQueue::create(*memory, receive.config())));
  queues.emplace_back(1, Queue(*SplitQueue::create(*memory, transmit.config())));
  ASSERT_TRUE(console.activate(memory, 0, std::move(queues), DeviceSignals{}));
  const BufferSpec out{kData, 5, false};
  transmit.make_available(transmit.add_chain(std::span(&out, 1)));
  console.notify(1);
  EXPECT_EQ(sink->written, 5U);

  const std::array<std::uint8_t, 3> input{'a', 'b', 'c'};
  EXPECT_EQ(console.enqueue_input(input), 3U);  // no receive buffer yet: it waits

  auto stopped = console.stop();
  ASSERT_TRUE(stopped) << stopped.error().to_string();
  ASSERT_EQ(stopped->size(), 2U);
  EXPECT_EQ(position((*stopped)[0].second), (SplitQueueState{0, 0}));
  EXPECT_EQ(position((*stopped)[1].second), (SplitQueueState{1, 1}));

  // Activated again, the input buffered before the stop reaches the first receive buffer.
  ASSERT_TRUE(console.activate(memory, 0, std::move(*stopped), DeviceSignals{}));
  const BufferSpec in{kData + 0x1000, 16, true};
  receive.make_available(receive.add_chain(std::span(&in, 1)));
  console.notify(0);
  ASSERT_EQ(receive.used_index(), 1);
  EXPECT_EQ(receive.used(0).length, 3U);
}

TEST(DeviceStop, BlockCompletesWhatItTookAndResumesWithTheRest) {
  std::string path = "/tmp/hvkit-stop-XXXXXX";
  const int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  ::close(fd);
  auto disk = BlockDevice::open(path, false);
  ::unlink(path.c_str());
  ASSERT_TRUE(disk) << disk.error().to_string();

  auto memory = make_memory();
  MockSplitDriver driver(*memory, kRings, 128);  // 3 descriptors per request
  ASSERT_TRUE((*disk)->activate(memory, 0, one_queue(*memory, driver), DeviceSignals{}));
  // 32 one-sector reads; the I/O thread takes some of them before the stop, perhaps all, perhaps none.
  constexpr int kRequests = 32;
  for (int i = 0; i < kRequests; ++i) {
    const std::uint64_t at = kData + 0x400 * static_cast<std::uint64_t>(i);
    ASSERT_TRUE(memory->write_obj(at, std::array<std::uint64_t, 2>{0, static_cast<std::uint64_t>(i)}));  // IN, sector i
    const std::array<BufferSpec, 3> request{{{at, 16, false}, {at + 0x10, 512, true}, {at + 0x210, 1, true}}};
    driver.make_available(driver.add_chain(request));
  }
  (*disk)->notify(0);

  auto stopped = (*disk)->stop();
  ASSERT_TRUE(stopped) << stopped.error().to_string();
  ASSERT_EQ(stopped->size(), 1U);
  const SplitQueueState at_stop = position(stopped->front().second);
  // Everything taken was completed and published: nothing is half-done.
  EXPECT_EQ(at_stop.next_avail, at_stop.next_used);
  EXPECT_EQ(driver.used_index(), at_stop.next_used);

  ASSERT_TRUE((*disk)->activate(memory, 0, std::move(*stopped), DeviceSignals{}));
  (*disk)->notify(0);
  // Waits on the device's own count (read under its lock, which orders the used ring's writes before
  // the reads below), not on the used index the I/O thread is writing.
  ASSERT_TRUE(hvtest::wait_until([&] { return (*disk)->stats().requests == kRequests; }));
  ASSERT_EQ(driver.used_index(), kRequests);
  // Each request used exactly once: heads 0..31 each appear once in the used ring.
  std::vector<int> seen(kRequests, 0);
  for (int i = 0; i < kRequests; ++i) {
    const auto used = driver.used(static_cast<std::uint16_t>(i));
    ASSERT_LT(used.id, static_cast<std::uint32_t>(3 * kRequests));
    ++seen[used.id / 3];
    EXPECT_EQ(used.length, 513U);
  }
  for (int count : seen) EXPECT_EQ(count, 1);
}

}  // namespace
