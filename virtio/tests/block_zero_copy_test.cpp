// virtio-blk's data path straight between guest memory and the file (preadv/pwritev over the chain's
// host views): short transfers taken up by advancing the iovecs (a fake system call returning any
// counts), chains of more pieces than one batch holds, chains whose buffers lie in different memory
// regions, a buffer straddling two regions refused as before, and reads past the end of the disk or
// of a file that shrank.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "hv/virtio/block.hpp"
#include "hv/virtio/file_scatter.hpp"

namespace {

using namespace hv::virtio;

// Counts from a script: each call moves at most the next count (from a real buffer, a position in
// `file`), -1 with EINTR, or 0 (end of file).
class ScriptedFile {
 public:
  explicit ScriptedFile(std::vector<ssize_t> script) : script_(std::move(script)) {}
  ssize_t read(const iovec* iov, int count, off_t offset) {
    offsets.push_back(offset);
    const ssize_t step = next();
    if (step <= 0) return step;
    ssize_t moved = 0;
    for (int i = 0; i < count && moved < step; ++i) {
      const auto n = std::min<std::size_t>(iov[i].iov_len, static_cast<std::size_t>(step - moved));
      for (std::size_t b = 0; b < n; ++b) {
        static_cast<std::uint8_t*>(iov[i].iov_base)[b] = static_cast<std::uint8_t>(offset + moved + b);
      }
      moved += static_cast<ssize_t>(n);
    }
    return moved;
  }
  std::vector<off_t> offsets;

 private:
  ssize_t next() {
    if (at_ == script_.size()) return 0;
    const ssize_t step = script_[at_++];
    if (step < 0) errno = EINTR;
    return step;
  }
  std::vector<ssize_t> script_;
  std::size_t at_ = 0;
};

TEST(FileScatter, AdvanceSkipsWholeEntriesAndShortensAPartialOne) {
  std::array<std::uint8_t, 10> a{}, b{};
  std::array<iovec, 2> iov = {iovec{a.data(), 4}, iovec{b.data(), 6}};
  auto left = advance_iovecs(iov, 5);
  ASSERT_EQ(left.size(), 1U);
  EXPECT_EQ(left.front().iov_base, b.data() + 1);
  EXPECT_EQ(left.front().iov_len, 5U);
  EXPECT_TRUE(advance_iovecs(left, 5).empty());
  std::array<iovec, 2> again = {iovec{a.data(), 4}, iovec{b.data(), 6}};
  EXPECT_EQ(advance_iovecs(again, 4).front().iov_base, b.data());  // exactly one entry
}

// Short counts, one byte, an EINTR, counts that end inside and on entry boundaries: every byte lands
// where it belongs, each call starts where the previous one stopped.
TEST(FileScatter, ShortTransfersContinueWhereTheyStopped) {
  std::array<std::uint8_t, 7> a{};
  std::array<std::uint8_t, 1> b{};
  std::array<std::uint8_t, 9> c{};
  std::array<iovec, 4> iov = {iovec{a.data(), a.size()}, iovec{nullptr, 0}, iovec{b.data(), b.size()},
                              iovec{c.data(), c.size()}};
  ScriptedFile file({3, -1, 1, 4, 1, 2, 100});
  ASSERT_TRUE(transfer_all(iov, 1000, [&](const iovec* v, int n, off_t at) { return file.read(v, n, at); }));
  EXPECT_EQ(file.offsets, (std::vector<off_t>{1000, 1003, 1003, 1004, 1008, 1009, 1011}));
  std::vector<std::uint8_t> all(a.begin(), a.end());
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<std::uint8_t>(1000 + i)) << i;
}

TEST(FileScatter, EndOfFileOrAnErrorPartWayFails) {
  std::array<std::uint8_t, 8> a{};
  std::array<iovec, 1> iov = {iovec{a.data(), a.size()}};
  ScriptedFile eof({4});  // then 0: the end of the file
  EXPECT_FALSE(transfer_all(iov, 0, [&](const iovec* v, int n, off_t at) { return eof.read(v, n, at); }));
  std::array<iovec, 1> iov2 = {iovec{a.data(), a.size()}};
  EXPECT_FALSE(transfer_all(iov2, 0, [](const iovec*, int, off_t) -> ssize_t {
    errno = EIO;
    return -1;
  }));
}

constexpr std::uint64_t kRegion = 0x100000;  // two adjacent 1 MiB regions
constexpr std::uint64_t kHeader = 0x1000, kStatus = 0x2000;

class BlockZeroCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::array<hv::RegionSpec, 2> specs = {hv::RegionSpec{0, kRegion}, hv::RegionSpec{kRegion, kRegion}};
    memory_ = std::move(*hv::GuestMemory::create(specs));
    std::string name = "/tmp/hvkit-blk-zc-XXXXXX";
    fd_ = ::mkstemp(name.data());
    path_ = name;
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(::ftruncate(fd_, 1 << 20), 0);  // 2048 sectors
    auto dev = BlockDevice::open(path_, false);
    ASSERT_TRUE(dev);
    dev_ = *dev;
  }
  void TearDown() override {
    dev_.reset();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // One request: header (type, sector), the data buffers, a separate status byte; the status.
  std::uint8_t request(std::uint32_t type, std::uint64_t sector, const std::vector<Buffer>& data,
                       std::uint32_t* written = nullptr) {
    EXPECT_TRUE(memory_.write_obj(kHeader, type));
    EXPECT_TRUE(memory_.write_obj<std::uint32_t>(kHeader + 4, 0));
    EXPECT_TRUE(memory_.write_obj(kHeader + 8, sector));
    EXPECT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
    DescriptorChain c;
    c.buffers.push_back({kHeader, 16, false});
    for (const auto& b : data) c.buffers.push_back(b);
    c.buffers.push_back({kStatus, 1, true});
    for (const auto& b : c.buffers) (b.device_writable ? c.writable_bytes : c.readable_bytes) += b.length;
    const std::uint32_t n = dev_->handle(memory_, c);
    if (written != nullptr) *written = n;
    return memory_.read_obj<std::uint8_t>(kStatus).value();
  }
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
  hv::GuestMemory memory_;
  std::shared_ptr<BlockDevice> dev_;
  int fd_ = -1;
  std::string path_;
};

// 600 pieces of odd sizes, more than one batch (256 pieces) holds, in both directions.
TEST_F(BlockZeroCopyTest, ManySegmentsInBothDirections) {
  std::vector<Buffer> out, in;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < 600; ++i) {
    const std::uint32_t len = 1 + (i * 97) % 700;
    out.push_back({0x10000 + total, len, false});
    in.push_back({0x80000 + total, len, true});
    total += len;
  }
  // Whole sectors: the last piece takes up the rest.
  const std::uint64_t pad = (512 - total % 512) % 512;
  out.back().length += static_cast<std::uint32_t>(pad);
  in.back().length += static_cast<std::uint32_t>(pad);
  total += pad;
  const auto data = pattern(total, 5);
  ASSERT_TRUE(memory_.write(0x10000, data));
  EXPECT_EQ(request(1, 7, out), 0);
  EXPECT_EQ(file(7 * 512, total), data);
  std::uint32_t written = 0;
  EXPECT_EQ(request(0, 7, in, &written), 0);
  EXPECT_EQ(written, total + 1);
  std::vector<std::uint8_t> back(total);
  ASSERT_TRUE(memory_.read(0x80000, back));
  EXPECT_EQ(back, data);
}

// Buffers in both regions of one chain work; one buffer straddling the two regions is refused (IOERR,
// nothing read or written), as the copying path refused it.
TEST_F(BlockZeroCopyTest, ChainsAcrossRegions) {
  const auto data = pattern(2048, 9);
  ASSERT_TRUE(memory_.write(kRegion - 1024, data, hv::CrossRegion::Allow));
  const std::vector<Buffer> split = {{kRegion - 1024, 1024, false}, {kRegion, 1024, false}};
  EXPECT_EQ(request(1, 100, split), 0);
  EXPECT_EQ(file(100 * 512, 2048), data);
  const std::vector<Buffer> split_in = {{kRegion - 4096, 1024, true}, {kRegion + 4096, 1024, true}};
  EXPECT_EQ(request(0, 100, split_in), 0);
  std::vector<std::uint8_t> half(1024);
  ASSERT_TRUE(memory_.read(kRegion - 4096, half));
  EXPECT_EQ(half, std::vector<std::uint8_t>(data.begin(), data.begin() + 1024));
  ASSERT_TRUE(memory_.read(kRegion + 4096, half));
  EXPECT_EQ(half, std::vector<std::uint8_t>(data.begin() + 1024, data.end()));

  const std::vector<Buffer> straddle = {{kRegion - 512, 1024, false}};
  EXPECT_EQ(request(1, 200, straddle), 1);
  EXPECT_EQ(file(200 * 512, 1024), std::vector<std::uint8_t>(1024, 0));
  ASSERT_TRUE(memory_.write(kRegion - 512, std::vector<std::uint8_t>(1024, 0x77), hv::CrossRegion::Allow));
  const std::vector<Buffer> straddle_in = {{kRegion - 512, 1024, true}};
  std::uint32_t written = 0;
  EXPECT_EQ(request(0, 100, straddle_in, &written), 1);
  EXPECT_EQ(written, 1U);  // the status only
  std::vector<std::uint8_t> untouched(1024);
  ASSERT_TRUE(memory_.read(kRegion - 512, untouched, hv::CrossRegion::Allow));
  EXPECT_EQ(untouched, std::vector<std::uint8_t>(1024, 0x77));
}

// Past the end of the disk: refused before any I/O. A file that shrank under the device: the read
// stops at its end (preadv returns 0) and the request is IOERR, with the data before it counted.
TEST_F(BlockZeroCopyTest, ReadsPastTheEnd) {
  const std::vector<Buffer> two_sectors = {{0x10000, 512, true}, {0x20000, 512, true}};
  EXPECT_EQ(request(0, 2047, two_sectors), 1);  // sector 2048 is past the end
  EXPECT_EQ(request(0, 2046, two_sectors), 0);
  ASSERT_EQ(::ftruncate(fd_, 2046 * 512 + 512), 0);  // one sector of the two left
  std::uint32_t written = 0;
  EXPECT_EQ(request(0, 2046, two_sectors, &written), 1);
  EXPECT_LE(written, 1U);
}

}  // namespace
