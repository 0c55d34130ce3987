// virtio-blk on a temporary file: each request type, framed in different descriptor layouts; sector
// ranges checked (end of disk, overflow, partial sectors); read-only images; malformed requests
// answered with an error status, never with out-of-range file access; the full path through the
// virtio-mmio transport and a mock driver.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "hv/virtio/block.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using namespace hv::virtio;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint64_t kRings = 0x10000, kHeader = 0x20000, kData = 0x30000, kStatus = 0x80000;
constexpr std::uint64_t kDiskBytes = 1 << 20;  // 2048 sectors

class TempDisk {
 public:
  TempDisk() {
    char name[] = "/tmp/hvkit-blk-XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    if (fd_ >= 0 && ::ftruncate(fd_, kDiskBytes) != 0) fd_ = -1;
  }
  ~TempDisk() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::vector<std::uint8_t> read(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    return out;
  }
  void write(std::uint64_t offset, const std::vector<std::uint8_t>& bytes) const {
    EXPECT_EQ(::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, 0x200000};
    memory_ = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }
  void put_header(std::uint32_t type, std::uint64_t sector) {
    ASSERT_TRUE(memory_.write_obj(kHeader, type));
    ASSERT_TRUE(memory_.write_obj<std::uint32_t>(kHeader + 4, 0));
    ASSERT_TRUE(memory_.write_obj(kHeader + 8, sector));
  }
  std::uint8_t status() { return memory_.read_obj<std::uint8_t>(kStatus).value(); }
  static DescriptorChain chain(std::vector<Buffer> buffers) {
    DescriptorChain c;
    for (const auto& b : buffers) (b.device_writable ? c.writable_bytes : c.readable_bytes) += b.length;
    c.buffers = std::move(buffers);
    return c;
  }
  std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 7 + i / 512);
    return p;
  }
  hv::GuestMemory memory_;
  TempDisk disk_;
};

TEST_F(BlockTest, WriteThenReadInDifferentFramings) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  EXPECT_EQ((*dev)->capacity_sectors(), 2048U);
  const auto data = pattern(1024, 3);
  ASSERT_TRUE(memory_.write(kData, data));
  put_header(1, 2);  // OUT, sector 2
  // Header split 8 + 8, data in three pieces, status alone.
  auto out = chain({{kHeader, 8, false},
                    {kHeader + 8, 8, false},
                    {kData, 100, false},
                    {kData + 100, 900, false},
                    {kData + 1000, 24, false},
                    {kStatus, 1, true}});
  EXPECT_EQ((*dev)->handle(memory_, out), 1U);
  EXPECT_EQ(status(), 0);
  EXPECT_EQ(disk_.read(1024, 1024), data);
  // IN, sector 2: data and status in one writable buffer.
  ASSERT_TRUE(memory_.write(kData + 0x10000, std::vector<std::uint8_t>(1025, 0xee)));
  put_header(0, 2);
  auto in = chain({{kHeader, 16, false}, {kData + 0x10000, 1025, true}});
  EXPECT_EQ((*dev)->handle(memory_, in), 1025U);
  std::vector<std::uint8_t> back(1025);
  ASSERT_TRUE(memory_.read(kData + 0x10000, back));
  EXPECT_EQ(std::vector<std::uint8_t>(back.begin(), back.begin() + 1024), data);
  EXPECT_EQ(back[1024], 0);  // the status byte is the last writable byte
}

TEST_F(BlockTest, SectorRangesAreChecked) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  const auto before = disk_.read(kDiskBytes - 512, 512);
  struct Case {
    std::uint32_t type;
    std::uint64_t sector;
    std::uint32_t bytes;
  };
  const Case cases[] = {
      {1, 2047, 1024},            // runs one sector past the end
      {0, 2048, 512},             // starts at the end
      {1, ~0ULL / 512 + 1, 512},  // sector * 512 overflows
      {0, ~0ULL, 512},            // sector + count overflows
      {1, 0, 100},                // not whole sectors
  };
  for (const auto& c : cases) {
    put_header(c.type, c.sector);
    ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
    auto request = c.type == 1 ? chain({{kHeader, 16, false}, {kData, c.bytes, false}, {kStatus, 1, true}})
                               : chain({{kHeader, 16, false}, {kData, c.bytes, true}, {kStatus, 1, true}});
    (*dev)->handle(memory_, request);
    EXPECT_EQ(status(), 1) << "type " << c.type << " sector " << c.sector << " bytes " << c.bytes;
  }
  EXPECT_EQ(disk_.read(kDiskBytes - 512, 512), before);
}

TEST_F(BlockTest, ReadOnlyImagesRefuseWritesAndSayTheyAreReadOnly) {
  auto dev = BlockDevice::open(disk_.path(), true);
  ASSERT_TRUE(dev);
  EXPECT_NE((*dev)->features() & (1ULL << 5), 0U);
  ASSERT_TRUE(memory_.write(kData, pattern(512, 9)));
  put_header(1, 0);
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 512, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 1);
  EXPECT_EQ(disk_.read(0, 512), std::vector<std::uint8_t>(512, 0));
  put_header(13, 0);  // write-zeroes
  ASSERT_TRUE(memory_.write_obj(kData, std::array<std::uint64_t, 2>{0, 1}));
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 1);
}

TEST_F(BlockTest, FlushGetIdDiscardWriteZeroesAndUnknownTypes) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  put_header(4, 0);  // FLUSH
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 0);
  put_header(8, 0);  // GET_ID
  EXPECT_EQ((*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 20, true}, {kStatus, 1, true}})), 21U);
  EXPECT_EQ(status(), 0);
  std::array<char, 20> id{};
  ASSERT_TRUE(
      memory_.read(kData, std::span(reinterpret_cast<std::uint8_t*>(id.data()), id.size())));  // test: bytes as text
  const std::string name = disk_.path().substr(disk_.path().find_last_of('/') + 1);
  EXPECT_EQ(std::string(id.data(), name.size()), name);
  disk_.write(4096, pattern(2048, 1));
  put_header(13, 0);  // WRITE_ZEROES sectors 8..11
  ASSERT_TRUE(memory_.write_obj(kData, std::array<std::uint64_t, 2>{8, 4}));
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 0);
  EXPECT_EQ(disk_.read(4096, 2048), std::vector<std::uint8_t>(2048, 0));
  put_header(11, 0);  // DISCARD sector 100, out of range count
  ASSERT_TRUE(memory_.write_obj(kData, std::array<std::uint64_t, 2>{100, 5000}));
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 1);
  put_header(11, 0);  // DISCARD with "unmap", and any unknown flag: UNSUPP (§5.2.6.2)
  ASSERT_TRUE(memory_.write_obj(kData, std::array<std::uint64_t, 2>{100, 1ULL << 32 | 4}));
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 2);
  put_header(13, 0);
  ASSERT_TRUE(memory_.write_obj(kData, std::array<std::uint64_t, 2>{100, 2ULL << 32 | 4}));
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 2);
  put_header(99, 0);
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 2);  // UNSUPP
}

TEST_F(BlockTest, MalformedRequestsAreAnsweredOrIgnoredSafely) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  put_header(0, 0);
  EXPECT_EQ((*dev)->handle(memory_, chain({{kHeader, 16, false}})), 0U);      // no status byte: nothing to answer
  (*dev)->handle(memory_, chain({{kHeader, 8, false}, {kStatus, 1, true}}));  // header too short
  EXPECT_EQ(status(), 1);
  // Data buffers outside guest RAM: an error status, no crash.
  put_header(1, 0);
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {0x7fff0000, 512, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 1);
}

TEST_F(BlockTest, ThroughTheMmioTransport) {
  class Line final : public hv::dev::InterruptLine {
   public:
    void set_level(bool a) override { level = a; }
    bool level = false;
  } line;
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  MmioTransport transport(memory_, *dev, line);
  const auto wr = [&](std::uint64_t offset, std::uint32_t v) {
    std::uint8_t b[4];
    std::memcpy(b, &v, 4);
    transport.write(offset, b);
  };
  std::uint8_t capacity[8];
  transport.read(0x100, capacity);
  std::uint64_t sectors = 0;
  std::memcpy(&sectors, capacity, 8);
  EXPECT_EQ(sectors, 2048U);
  MockSplitDriver driver(memory_, kRings, 8);
  const auto c = driver.config();
  for (const auto& [reg, value] :
       std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0x70, 1},
                                                            {0x70, 3},
                                                            {0x24, 1},
                                                            {0x20, 1},
                                                            {0x70, 11},
                                                            {0x30, 0},
                                                            {0x38, 8},
                                                            {0x80, static_cast<std::uint32_t>(c.descriptor_table)},
                                                            {0x90, static_cast<std::uint32_t>(c.available_ring)},
                                                            {0xa0, static_cast<std::uint32_t>(c.used_ring)},
                                                            {0x44, 1},
                                                            {0x70, 15}}) {
    wr(reg, value);
  }
  ASSERT_EQ(transport.status(), 15U);
  ASSERT_TRUE(memory_.write(kData, pattern(512, 77)));
  put_header(1, 5);
  const BufferSpec request[] = {{kHeader, 16, false}, {kData, 512, false}, {kStatus, 1, true}};
  driver.make_available(driver.add_chain(request));
  wr(0x50, 0);
  ASSERT_EQ(driver.used_index(), 1);
  EXPECT_EQ(driver.used(0).length, 1U);
  EXPECT_EQ(status(), 0);
  EXPECT_TRUE(line.level);
  EXPECT_EQ(disk_.read(5 * 512, 512), pattern(512, 77));
}

}  // namespace
