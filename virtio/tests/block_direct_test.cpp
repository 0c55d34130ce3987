// virtio-blk with BlockOptions::direct (O_DIRECT): guest buffers direct I/O can take go straight to
// the file (no bounce), any others through the worker's aligned bounce buffer with the same data, and
// a file system that does not report its direct-I/O alignment is held to 4096-byte requests.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "hv/virtio/block.hpp"

namespace {

using namespace hv::virtio;

constexpr std::uint64_t kRegion = 0x100000;  // two adjacent 1 MiB regions
constexpr std::uint64_t kHeader = 0x1000, kStatus = 0x2000;
constexpr std::uint64_t kDiskBytes = 4 << 20;

class BlockDirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::array<hv::RegionSpec, 2> specs = {hv::RegionSpec{0, kRegion}, hv::RegionSpec{kRegion, kRegion}};
    memory_ = std::move(*hv::GuestMemory::create(specs));
  }
  void TearDown() override {
    dev_.reset();
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  // A disk in `dir`, opened with direct I/O; false (and a reason) when it cannot be.
  bool open_in(const std::string& dir, std::string& why) {
    std::string name = dir + "/hvkit-blk-direct-XXXXXX";
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) {
      why = "cannot create a file in " + dir;
      return false;
    }
    path_ = name;
    if (::ftruncate(fd_, kDiskBytes) != 0) {
      why = "ftruncate";
      return false;
    }
    BlockOptions options;
    options.direct = true;
    auto dev = BlockDevice::open(path_, options);
    if (!dev) {
      why = dev.error().to_string();
      return false;
    }
    dev_ = *dev;
    return true;
  }
  std::uint8_t request(std::uint32_t type, std::uint64_t sector, const std::vector<Buffer>& data) {
    EXPECT_TRUE(memory_.write_obj(kHeader, type));
    EXPECT_TRUE(memory_.write_obj<std::uint32_t>(kHeader + 4, 0));
    EXPECT_TRUE(memory_.write_obj(kHeader + 8, sector));
    EXPECT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
    DescriptorChain c;
    c.buffers.push_back({kHeader, 16, false});
    for (const auto& b : data) c.buffers.push_back(b);
    c.buffers.push_back({kStatus, 1, true});
    for (const auto& b : c.buffers) (b.device_writable ? c.writable_bytes : c.readable_bytes) += b.length;
    dev_->handle(memory_, c);
    return memory_.read_obj<std::uint8_t>(kStatus).value();
  }
  // The file's bytes as a second, buffered descriptor sees them.
  std::vector<std::uint8_t> file(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    return out;
  }
  static std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 13 + i / 251);
    return p;
  }
  std::vector<std::uint8_t> guest(std::uint64_t at, std::size_t n) {
    std::vector<std::uint8_t> out(n);
    EXPECT_TRUE(memory_.read(at, out));
    return out;
  }
  hv::GuestMemory memory_;
  std::shared_ptr<BlockDevice> dev_;
  int fd_ = -1;
  std::string path_;
};

// Page-aligned buffers of whole pages: written and read back through their host views, never bounced.
TEST_F(BlockDirectTest, AlignedBuffersGoStraightToTheFile) {
  std::string why;
  ASSERT_TRUE(open_in("/tmp", why)) << why;
  EXPECT_GT(dev_->direct_memory_alignment(), 0U);
  EXPECT_GE(dev_->direct_offset_alignment(), BlockDevice::kSectorSize);
  const auto data = pattern(3 * 4096, 3);
  ASSERT_TRUE(memory_.write(0x10000, data));
  EXPECT_EQ(request(1, 8, {{0x10000, 4096, false}, {0x20000, 0, false}, {0x11000, 2 * 4096, false}}), 0);
  EXPECT_EQ(file(8 * 512, data.size()), data);
  EXPECT_EQ(request(0, 8, {{0x40000, 2 * 4096, true}, {kRegion + 0x3000, 4096, true}}), 0);
  EXPECT_EQ(guest(0x40000, 2 * 4096), std::vector<std::uint8_t>(data.begin(), data.begin() + 2 * 4096));
  EXPECT_EQ(guest(kRegion + 0x3000, 4096), std::vector<std::uint8_t>(data.begin() + 2 * 4096, data.end()));
  EXPECT_EQ(dev_->stats().bounced, 0U);
}

// Buffers at odd addresses and of odd lengths, in both regions, more than one 1 MiB batch: every byte
// reaches the file and comes back where the driver asked, through the bounce buffer.
TEST_F(BlockDirectTest, UnalignedBuffersAreBouncedWithTheSameData) {
  std::string why;
  ASSERT_TRUE(open_in("/tmp", why)) << why;
  constexpr std::uint32_t kFirst = 0xc0000 + 0x123, kSecond = 0x50000 - 0x123;  // 1 MiB + 64 KiB together
  const auto data = pattern(kFirst + kSecond, 7);
  ASSERT_TRUE(memory_.write(0x20001, std::span(data).first(kFirst)));
  ASSERT_TRUE(memory_.write(kRegion + 0x11, std::span(data).subspan(kFirst)));
  EXPECT_EQ(request(1, 64, {{0x20001, kFirst, false}, {kRegion + 0x11, kSecond, false}}), 0);
  EXPECT_EQ(file(64 * 512, data.size()), data);
  const auto bounced_writes = dev_->stats().bounced;
  EXPECT_EQ(bounced_writes, 2U);  // two batches

  // Read back into other odd places: three pieces, one of them a single byte.
  constexpr std::uint32_t kA = 1, kB = 0x7ffff, kC = kFirst + kSecond - kA - kB;
  EXPECT_EQ(request(0, 64, {{0x10003, kA, true}, {0x20005, kB, true}, {kRegion + 0x107, kC, true}}), 0);
  std::vector<std::uint8_t> back = guest(0x10003, kA);
  const auto b = guest(0x20005, kB);
  const auto c = guest(kRegion + 0x107, kC);
  back.insert(back.end(), b.begin(), b.end());
  back.insert(back.end(), c.begin(), c.end());
  EXPECT_EQ(back, data);
  EXPECT_EQ(dev_->stats().bounced, bounced_writes + 2);

  // One sector from an aligned address but of a length direct I/O may refuse per piece: still right.
  const auto sector = pattern(512, 11);
  ASSERT_TRUE(memory_.write(0x30000, std::span(sector).first(100)));
  ASSERT_TRUE(memory_.write(0x31000, std::span(sector).subspan(100)));
  EXPECT_EQ(request(1, 3, {{0x30000, 100, false}, {0x31000, 412, false}}), 0);
  EXPECT_EQ(file(3 * 512, 512), sector);
}

// tmpfs takes O_DIRECT but reports no alignment: the device holds the driver to 4096 bytes, offered
// as blk_size (VIRTIO_BLK_F_BLK_SIZE), and refuses a request of a smaller unit rather than reading,
// modifying and writing a block.
TEST_F(BlockDirectTest, UnreportedAlignmentIsOfferedAsBlockSize) {
  std::string why;
  if (!open_in("/dev/shm", why)) GTEST_SKIP() << "no direct I/O on /dev/shm here: " << why;
  if (dev_->direct_offset_alignment() != BlockDevice::kMaxDirectAlignment) {
    GTEST_SKIP() << "this tmpfs reports its alignment";
  }
  EXPECT_NE(dev_->features() & (1ULL << 6), 0U);
  std::array<std::uint8_t, 4> blk_size{};
  dev_->read_config(20, blk_size);
  std::uint32_t value = 0;
  std::memcpy(&value, blk_size.data(), 4);
  EXPECT_EQ(value, 4096U);
  const auto data = pattern(4096, 5);
  ASSERT_TRUE(memory_.write(0x10000, data));
  EXPECT_EQ(request(1, 1, {{0x10000, 4096, false}}), 1);  // offset 512
  EXPECT_EQ(request(1, 8, {{0x10000, 512, false}}), 1);   // one sector
  EXPECT_EQ(request(1, 8, {{0x10000, 4096, false}}), 0);
  EXPECT_EQ(file(8 * 512, 4096), data);
}

// Without direct I/O nothing changes: 512-byte blocks, no BLK_SIZE, no alignment.
TEST_F(BlockDirectTest, BufferedDiskOffersNoBlockSize) {
  std::string name = "/tmp/hvkit-blk-direct-XXXXXX";
  fd_ = ::mkstemp(name.data());
  ASSERT_GE(fd_, 0);
  path_ = name;
  ASSERT_EQ(::ftruncate(fd_, kDiskBytes), 0);
  auto dev = BlockDevice::open(path_, false);
  ASSERT_TRUE(dev);
  EXPECT_EQ((*dev)->features() & (1ULL << 6), 0U);
  EXPECT_EQ((*dev)->direct_memory_alignment(), 0U);
}

}  // namespace
