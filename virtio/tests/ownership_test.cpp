// Virtio transports and devices share what they use (issue 13, "references that must outlive their
// holders"): the creator of a transport may drop its guest memory, interrupt line and console sink
// as soon as the transport has them, and the virtio-blk I/O thread keeps the memory it works on even
// when everyone else lets go of it in the middle of a pass. Each test drops the creator's pointers
// and then makes the transport or device use them; one that kept a reference would read or write
// freed memory (ASan: heap-use-after-free; the GuestRegion is unmapped as well).
#include <gtest/gtest.h>

#include "device_test_support.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "hv/dev/byte_sink.hpp"
#include "hv/virtio/block.hpp"
#include "hv/virtio/console.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;
using hvtest::RecordingLine;

constexpr std::uint64_t kRings = 0x10000, kRings2 = 0x14000, kHeader = 0x20000, kStatus = 0x28000, kData = 0x40000;

std::shared_ptr<hv::GuestMemory> make_memory(std::uint64_t bytes) {
  const hv::RegionSpec spec{0, bytes};
  auto memory = hv::GuestMemory::create(std::span(&spec, 1));
  EXPECT_TRUE(memory);
  return std::make_shared<hv::GuestMemory>(std::move(*memory));
}

void write_register(MmioTransport& transport, std::uint64_t offset, std::uint32_t v) {
  std::uint8_t b[4];
  std::memcpy(b, &v, 4);
  transport.write(offset, b);
}

// The driver's initialization up to, not including, DRIVER_OK: VERSION_1 and the given queues.
void set_up_queues(MmioTransport& transport, const std::vector<SplitQueueConfig>& queues) {
  for (const auto& [reg, value] :
       std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0x70, 1}, {0x70, 3}, {0x24, 1}, {0x20, 1}, {0x70, 11}})
    write_register(transport, reg, value);
  for (std::uint32_t q = 0; q < queues.size(); ++q) {
    write_register(transport, 0x30, q);
    write_register(transport, 0x38, queues[q].size);
    write_register(transport, 0x80, static_cast<std::uint32_t>(queues[q].descriptor_table));
    write_register(transport, 0x90, static_cast<std::uint32_t>(queues[q].available_ring));
    write_register(transport, 0xa0, static_cast<std::uint32_t>(queues[q].used_ring));
    write_register(transport, 0x44, 1);
  }
}

std::uint16_t used_index(const hv::GuestMemory& memory, const SplitQueueConfig& queue) {
  return memory.read_obj<std::uint16_t>(queue.used_ring + 2).value();
}

// The transport validates the queues, activates the device and raises the line after its creator
// dropped the memory and the line; the device fills the driver's buffer through the shared memory.
TEST(Ownership, MmioTransportKeepsMemoryAndLineAfterTheCreatorDropsThem) {
  auto memory = make_memory(0x100000);
  auto line = std::make_shared<RecordingLine>();
  auto rng = std::make_shared<RngDevice>();
  auto transport = std::make_unique<MmioTransport>(memory, rng, line);
  SplitQueueConfig queue;
  {
    MockSplitDriver driver(*memory, kRings, 8);  // test-only, stack-scoped: it may keep a reference
    queue = driver.config();
    const BufferSpec buffer[] = {{kData, 64, true}};
    driver.make_available(driver.add_chain(buffer));
  }
  set_up_queues(*transport, {queue});
  const std::weak_ptr<hv::GuestMemory> memory_watch = memory;
  const std::weak_ptr<RecordingLine> line_watch = line;
  memory.reset();  // the creator lets go
  line.reset();
  ASSERT_FALSE(memory_watch.expired()) << "the transport keeps the guest memory";
  ASSERT_FALSE(line_watch.expired()) << "the transport keeps its interrupt line";
  write_register(*transport, 0x70, 15);  // DRIVER_OK: the transport builds the queue and activates rng
  ASSERT_EQ(transport->status(), 15U);
  write_register(*transport, 0x50, 0);  // QueueNotify
  {
    const auto kept_memory = memory_watch.lock();
    const auto kept_line = line_watch.lock();
    ASSERT_TRUE(kept_memory && kept_line);
    EXPECT_EQ(used_index(*kept_memory, queue), 1);
    EXPECT_TRUE(kept_line->level.load());
  }
  transport.reset();  // resets the device, which lets go of the memory too
  EXPECT_TRUE(memory_watch.expired()) << "nothing keeps the memory after the transport and reset";
  EXPECT_TRUE(line_watch.expired());
  EXPECT_FALSE(rng->broken());
}

TEST(Ownership, ConsoleDeviceKeepsItsSinkAfterTheCreatorDropsIt) {
  auto memory = make_memory(0x100000);
  auto sink = std::make_shared<hv::dev::BufferSink>();
  const std::weak_ptr<hv::dev::BufferSink> sink_watch = sink;
  auto console = std::make_shared<ConsoleDevice>(sink);
  sink.reset();
  ASSERT_FALSE(sink_watch.expired()) << "the console keeps its sink";
  MmioTransport transport(memory, console, std::make_shared<RecordingLine>());
  MockSplitDriver rx(*memory, kRings, 8), tx(*memory, kRings2, 8);
  set_up_queues(transport, {rx.config(), tx.config()});
  write_register(transport, 0x70, 15);
  const std::string text = "kept";
  ASSERT_TRUE(memory->write(kData, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())));
  const BufferSpec out[] = {{kData, static_cast<std::uint32_t>(text.size()), false}};
  tx.make_available(tx.add_chain(out));
  write_register(transport, 0x50, 1);  // transmitq
  EXPECT_EQ(tx.used_index(), 1);
  const auto kept_sink = sink_watch.lock();
  ASSERT_TRUE(kept_sink);
  EXPECT_EQ(kept_sink->contents(), text);
}

// A temporary disk image for the block device.
class TempFile {
 public:
  explicit TempFile(std::uint64_t bytes) {
    fd_ = ::mkstemp(path_.data());
    if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) fd_ = -1;
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] bool ok() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::vector<std::uint8_t> read(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    return out;
  }

 private:
  std::string path_ = "/tmp/hvkit-own-XXXXXX";
  int fd_ = -1;
};

// The creator of the memory (here: the test, standing in for a transport and a VMM that both let
// go) drops it while the block device's worker is between two requests of one notification: the
// worker (one: queue depth 1) is held inside the used-buffer signal of its first request until the
// memory is dropped, then reads the remaining requests' headers and data from guest memory. Only the
// device's shared_ptr keeps that memory alive; every write must reach the disk.
TEST(Ownership, BlockWorkerKeepsMemoryTheCreatorDropsBetweenRequests) {
  constexpr std::uint16_t kRequests = 84;  // 3 descriptors each: 252 of 256
  constexpr std::uint32_t kBytes = 4096;
  TempFile disk(std::uint64_t{kRequests} * kBytes);
  ASSERT_TRUE(disk.ok());
  BlockOptions one_worker;
  one_worker.queue_depth = 1;
  auto opened = BlockDevice::open(disk.path(), one_worker);
  ASSERT_TRUE(opened) << opened.error().to_string();
  const std::shared_ptr<BlockDevice> device = std::move(*opened);

  auto memory = make_memory(0x200000);
  const auto pattern = [](std::uint16_t request) {
    std::vector<std::uint8_t> bytes(kBytes);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(request * 13 + i / 7);
    return bytes;
  };
  SplitQueueConfig config;
  {
    MockSplitDriver driver(*memory, kRings, 256);
    config = driver.config();
    for (std::uint16_t r = 0; r < kRequests; ++r) {
      const std::uint64_t header = kHeader + 16ULL * r, data = kData + std::uint64_t{kBytes} * r;
      ASSERT_TRUE(memory->write_obj<std::uint32_t>(header, 1));  // OUT
      ASSERT_TRUE(memory->write_obj<std::uint32_t>(header + 4, 0));
      ASSERT_TRUE(memory->write_obj<std::uint64_t>(header + 8, std::uint64_t{r} * (kBytes / 512)));
      ASSERT_TRUE(memory->write(data, pattern(r)));
      ASSERT_TRUE(memory->write_obj<std::uint8_t>(kStatus + r, 0xaa));
      const BufferSpec request[] = {{header, 16, false}, {data, kBytes, false}, {kStatus + r, 1, true}};
      driver.make_available(driver.add_chain(request));
    }
  }
  auto split = SplitQueue::create(*memory, config);
  ASSERT_TRUE(split);
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  queues.emplace_back(0, Queue(*split));

  std::promise<void> first_pass_done, memory_dropped;
  auto first_pass = first_pass_done.get_future();
  auto dropped = memory_dropped.get_future().share();
  std::atomic<int> signals{0};
  std::atomic<bool> broken{false};
  DeviceSignals device_signals{[&, dropped](std::uint16_t) {
                                 if (signals.fetch_add(1) != 0) return;
                                 first_pass_done.set_value();
                                 (void)dropped.wait_for(std::chrono::seconds(30));  // never hang the test
                               },
                               [&] { broken = true; }};
  constexpr std::uint64_t kFlush = 1ULL << 9;  // the driver flushes: no fdatasync per write
  ASSERT_TRUE(device->activate(memory, kFeatureVersion1 | kFlush, std::move(queues), std::move(device_signals)));

  device->notify(0);
  ASSERT_EQ(first_pass.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(used_index(*memory, config), 1) << "held after exactly one request";
  const std::weak_ptr<hv::GuestMemory> watch = memory;
  memory.reset();  // the last pointer outside the device
  ASSERT_FALSE(watch.expired()) << "the device keeps the memory its worker works on";
  memory_dropped.set_value();

  ASSERT_TRUE(hvtest::wait_until([&] { return device->stats().requests == kRequests; }));
  EXPECT_FALSE(broken.load());
  {
    const auto kept = watch.lock();
    ASSERT_TRUE(kept);
    EXPECT_EQ(used_index(*kept, config), kRequests);
    for (std::uint16_t r = 0; r < kRequests; ++r)
      EXPECT_EQ(kept->read_obj<std::uint8_t>(kStatus + r).value(), 0) << "request " << r;
  }
  for (std::uint16_t r = 0; r < kRequests; ++r)
    ASSERT_EQ(disk.read(std::uint64_t{r} * kBytes, kBytes), pattern(r)) << "request " << r;
  device->reset();
  EXPECT_TRUE(watch.expired()) << "reset lets go of the memory";
}

// A device activated without memory refuses, rather than crashing later on its I/O thread.
TEST(Ownership, ActivationWithoutMemoryIsRefused) {
  TempFile disk(1 << 20);
  ASSERT_TRUE(disk.ok());
  auto block = BlockDevice::open(disk.path(), false);
  ASSERT_TRUE(block);
  auto memory = make_memory(0x100000);
  MockSplitDriver driver(*memory, kRings, 8);
  const auto queue = [&] {
    std::vector<std::pair<std::uint16_t, Queue>> queues;
    queues.emplace_back(0, Queue(*SplitQueue::create(*memory, driver.config())));
    return queues;
  };
  auto r = (*block)->activate(nullptr, kFeatureVersion1, queue(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
  RngDevice rng;
  EXPECT_FALSE(rng.activate(nullptr, kFeatureVersion1, queue(), {}));
  ConsoleDevice console(std::make_shared<hv::dev::BufferSink>());
  EXPECT_FALSE(console.activate(nullptr, kFeatureVersion1, queue(), {}));
}

TEST(OwnershipDeathTest, NullTransportPartsAndConsoleSinkAreRefusedAtConstruction) {
  auto memory = make_memory(0x10000);
  auto line = std::make_shared<RecordingLine>();
  auto rng = std::make_shared<RngDevice>();
  EXPECT_DEATH(MmioTransport(nullptr, rng, line), "");
  EXPECT_DEATH(MmioTransport(memory, nullptr, line), "");
  EXPECT_DEATH(MmioTransport(memory, rng, nullptr), "");
  EXPECT_DEATH(ConsoleDevice(nullptr), "");
}

}  // namespace
