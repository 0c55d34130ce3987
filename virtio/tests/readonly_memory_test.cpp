// Guest memory the VMM made read-only (a ROM: GuestMemory Permission::ReadOnly) as a device sees it,
// through the virtio-mmio transport and a mock driver: virtio-blk never DMAs into it (a read request
// whose data buffer or status byte lies there fails, the memory unchanged), a queue whose used ring
// lies there is refused at setup, and a used ring that turns read-only later stops the device with
// DEVICE_NEEDS_RESET instead of being written.
#include <gtest/gtest.h>

#include "device_test_support.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hv/virtio/block.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

// RAM [0, 0x200000): rings, headers, data, status. ROM [0x200000, 0x210000), filled with kRomByte.
// A separate read-write region [0x300000, 0x310000) for rings that later turn read-only.
constexpr std::uint64_t kRings = 0x10000, kHeader = 0x20000, kData = 0x30000, kStatus = 0x80000;
constexpr std::uint64_t kRom = 0x200000, kRomSize = 0x10000, kRingRegion = 0x300000;
constexpr std::uint8_t kRomByte = 0xa5;
constexpr std::uint64_t kDiskBytes = 1 << 20;
constexpr std::uint32_t kIn = 0;
constexpr std::uint8_t kOk = 0, kIoError = 1;

class TempDisk {
 public:
  TempDisk() {
    char name[] = "/tmp/hvkit-rom-blk-XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    if (fd_ >= 0 && ::ftruncate(fd_, kDiskBytes) != 0) fd_ = -1;
    std::vector<std::uint8_t> pattern(kDiskBytes);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<std::uint8_t>(i * 13 + i / 512);
    if (fd_ >= 0 && ::pwrite(fd_, pattern.data(), pattern.size(), 0) != static_cast<ssize_t>(pattern.size())) fd_ = -1;
  }
  ~TempDisk() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempDisk(const TempDisk&) = delete;
  TempDisk& operator=(const TempDisk&) = delete;
  [[nodiscard]] bool ok() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

using Line = hvtest::RecordingLine;
using hvtest::wait_until;

class ReadOnlyMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(disk_.ok());
    const hv::RegionSpec specs[] = {
        {0, 0x200000}, {kRom, kRomSize, hv::Permission::ReadOnly}, {kRingRegion, 0x10000, hv::Permission::ReadWrite}};
    auto memory = hv::GuestMemory::create(specs);
    ASSERT_TRUE(memory) << memory.error().to_string();
    memory_ = std::move(*memory);
    const auto rom = memory_.find_region(kRom);
    ASSERT_NE(rom, nullptr);
    const auto host = (*rom)->host();  // the VMM fills its ROM through the owner's view
    std::fill(host.begin(), host.end(), kRomByte);
    auto dev = BlockDevice::open(disk_.path(), false);
    ASSERT_TRUE(dev) << dev.error().to_string();
    device_ = *dev;
    transport_ = std::make_unique<MmioTransport>(shared_memory_, device_, shared_line_);
  }
  std::uint32_t rd(std::uint64_t offset) { return hvtest::mmio_read32(*transport_, offset); }
  void wr(std::uint64_t offset, std::uint32_t v) { hvtest::mmio_write32(*transport_, offset, v); }
  // ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK, queue 0 as `c`; true when the queue reads back ready.
  bool set_up(const SplitQueueConfig& c) {
    wr(0x70, kStatusAcknowledge);
    wr(0x70, kStatusAcknowledge | kStatusDriver);
    wr(0x24, 1);
    wr(0x20, 1);  // VERSION_1
    wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    wr(0x30, 0);
    wr(0x38, c.size);
    wr(0x80, static_cast<std::uint32_t>(c.descriptor_table));
    wr(0x84, 0);
    wr(0x90, static_cast<std::uint32_t>(c.available_ring));
    wr(0x94, 0);
    wr(0xa0, static_cast<std::uint32_t>(c.used_ring));
    wr(0xa4, 0);
    wr(0x44, 1);
    return rd(0x44) == 1;
  }
  void go_live() {
    wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ASSERT_EQ(rd(0x70), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }
  void put_read_header(std::uint64_t sector) {
    ASSERT_TRUE(memory_.write_obj(kHeader, kIn));
    ASSERT_TRUE(memory_.write_obj<std::uint32_t>(kHeader + 4, 0));
    ASSERT_TRUE(memory_.write_obj(kHeader + 8, sector));
  }
  [[nodiscard]] bool rom_untouched() const {
    const auto rom = memory_.view(kRom, kRomSize);
    return rom && std::all_of(rom->begin(), rom->end(), [](std::uint8_t b) { return b == kRomByte; });
  }
  TempDisk disk_;
  // The transport and the device share the memory; the tests use it through memory_.
  std::shared_ptr<hv::GuestMemory> shared_memory_ = std::make_shared<hv::GuestMemory>();
  hv::GuestMemory& memory_ = *shared_memory_;
  std::shared_ptr<BlockDevice> device_;
  std::shared_ptr<Line> shared_line_ = std::make_shared<Line>();
  Line& line_ = *shared_line_;
  std::unique_ptr<MmioTransport> transport_;
};

TEST_F(ReadOnlyMemory, BlockReadsIntoReadOnlyMemoryFailAndLeaveItUnchanged) {
  MockSplitDriver driver(memory_, kRings, 8);
  ASSERT_TRUE(set_up(driver.config()));
  go_live();
  struct Case {
    const char* name;
    std::vector<BufferSpec> writable;  // after the 16-byte header
    std::uint64_t status_at;
  };
  const Case cases[] = {
      {"data buffer in ROM", {{kRom + 0x200, 512, true}, {kStatus, 1, true}}, kStatus},
      {"second half of the data in ROM", {{kData, 512, true}, {kRom + 0x800, 512, true}, {kStatus, 1, true}}, kStatus},
      {"data and status in one ROM buffer", {{kRom + 0x1000, 513, true}}, kRom + 0x1200},
  };
  std::uint16_t expected_used = 0;
  for (const auto& c : cases) {
    put_read_header(0);
    ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xee));
    std::vector<BufferSpec> chain{{kHeader, 16, false}};
    chain.insert(chain.end(), c.writable.begin(), c.writable.end());
    driver.make_available(driver.add_chain(chain));
    wr(0x50, 0);
    ++expected_used;
    ASSERT_TRUE(wait_until([&] { return driver.used_index() == expected_used; }))
        << c.name << ": the request was not completed";
    if (c.status_at == kStatus) {
      EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus).value(), kIoError) << c.name;
    } else {
      EXPECT_EQ(driver.used(expected_used - 1).length, 0U) << c.name << ": no byte could be written";
    }
    EXPECT_TRUE(rom_untouched()) << c.name;
    EXPECT_EQ(rd(0x70) & kStatusDeviceNeedsReset, 0U) << c.name << ": the driver did nothing wrong with the queue";
    driver.reset_descriptors();
  }
  // The same read into RAM succeeds: the device still serves.
  put_read_header(0);
  const BufferSpec good[] = {{kHeader, 16, false}, {kData, 512, true}, {kStatus, 1, true}};
  driver.make_available(driver.add_chain(good));
  wr(0x50, 0);
  ASSERT_TRUE(wait_until([&] { return driver.used_index() == expected_used + 1; }));
  EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus).value(), kOk);
  EXPECT_EQ(memory_.read_obj<std::uint8_t>(kData + 1).value(), 13);  // the disk pattern
  EXPECT_FALSE(device_->broken());
}

TEST_F(ReadOnlyMemory, AQueueWithItsUsedRingInReadOnlyMemoryReadsBackNotReady) {
  MockSplitDriver driver(memory_, kRings, 8);
  SplitQueueConfig c = driver.config();
  c.used_ring = kRom + 0x100;
  EXPECT_FALSE(set_up(c)) << "the device could never return a buffer";
  wr(0x70, 0);
  EXPECT_TRUE(rom_untouched());
  // Only the used ring matters: descriptor table and available ring are only read by the device.
  c = driver.config();
  c.descriptor_table = kRom;
  c.available_ring = kRom + 0x1000;
  EXPECT_TRUE(set_up(c));
}

TEST_F(ReadOnlyMemory, AUsedRingThatTurnsReadOnlyStopsTheDeviceWithoutWritingIt) {
  MockSplitDriver driver(memory_, kRingRegion, 8);
  ASSERT_TRUE(set_up(driver.config()));
  go_live();
  put_read_header(0);
  const BufferSpec request[] = {{kHeader, 16, false}, {kData, 512, true}, {kStatus, 1, true}};
  driver.make_available(driver.add_chain(request));
  // Then the VMM remaps the rings' region read-only (a layout change between notifications).
  auto rings = memory_.remove_region(kRingRegion);
  ASSERT_TRUE(rings);
  ASSERT_TRUE(memory_.add_region(*rings, hv::Permission::ReadOnly));
  const auto host = (*rings)->host();
  const std::vector<std::uint8_t> before(host.begin(), host.begin() + 0x1000);
  wr(0x50, 0);
  ASSERT_TRUE(wait_until([&] {
    return (rd(0x70) & kStatusDeviceNeedsReset) != 0 && (rd(0x60) & 2) != 0 && line_.level.load();
  })) << "a device that cannot return buffers must ask for a reset, with a configuration interrupt";
  EXPECT_TRUE(line_.level);
  EXPECT_TRUE(device_->broken());
  EXPECT_EQ(std::vector<std::uint8_t>(host.begin(), host.begin() + 0x1000), before)
      << "the device wrote into read-only memory";
  EXPECT_EQ(driver.used_index(), 0);
}

}  // namespace
