// virtio-blk on a temporary file: each request type, framed in different descriptor layouts; sector
// ranges checked (end of disk, overflow, partial sectors, the 128 MiB cap); read-only images;
// malformed requests answered with an error status, never with out-of-range file access; GET_ID from
// the serial only; write-zeroes bounded, without overlapping segments, and punching holes for
// "unmap"; the image refused unless a regular file and locked against a second writer; and the full
// path through the virtio-mmio transport and a mock driver: one notification serves every request
// made available, with a bounded number in flight, and a reset or the device's end stops a flood at
// once. Requests in flight concurrently: block_concurrency_test.cpp.
#include <gtest/gtest.h>

#include "device_test_support.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "hv/virtio/block.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

#include "block_test_support.hpp"

namespace {

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

// IN and OUT move at most kMaxRequestBytes (128 MiB) per request: one sector more is IOERR, before
// any byte moves.
TEST_F(BlockTest, RequestsAreCappedAt128MiB) {
  const TempDisk big(256 * kMiB);  // sparse
  auto dev = BlockDevice::open(big.path(), false);
  ASSERT_TRUE(dev);
  // 2048 buffers of 64 KiB (all the same guest memory) = exactly 128 MiB, then one sector more.
  std::vector<Buffer> exact = {{kHeader, 16, false}};
  for (int i = 0; i < 2048; ++i) exact.push_back({kBig, 64 * 1024, true});
  std::vector<Buffer> over = exact;
  exact.push_back({kStatus, 1, true});
  over.push_back({kBig, 512, true});
  over.push_back({kStatus, 1, true});
  ASSERT_EQ(chain(exact).writable_bytes - 1, BlockDevice::kMaxRequestBytes);
  put_header(0, 0);  // IN: exactly 128 MiB is served
  EXPECT_EQ((*dev)->handle(memory_, chain(exact)), BlockDevice::kMaxRequestBytes + 1);
  EXPECT_EQ(status(), 0);
  for (const std::uint32_t type : {0U, 1U}) {  // IN, OUT: one sector more is refused
    auto flip = [&](std::vector<Buffer> buffers) {
      for (std::size_t i = 1; i + 1 < buffers.size(); ++i) buffers[i].device_writable = type == 0;
      return chain(std::move(buffers));
    };
    put_header(type, 0);
    ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
    EXPECT_EQ((*dev)->handle(memory_, flip(over)), 1U) << "type " << type;  // the status only
    EXPECT_EQ(status(), 1) << "type " << type;
  }
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
  put_segments({segment(0, 1)});
  EXPECT_EQ(segments_request(**dev, 13, 1), 1);  // write-zeroes
}

TEST_F(BlockTest, FlushDiscardWriteZeroesAndUnknownTypes) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  put_header(4, 0);  // FLUSH
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 0);
  disk_.write(4096, pattern(2048, 1));
  put_segments({segment(8, 4)});  // WRITE_ZEROES sectors 8..11
  EXPECT_EQ(segments_request(**dev, 13, 1), 0);
  EXPECT_EQ(disk_.read(4096, 2048), std::vector<std::uint8_t>(2048, 0));
  put_segments({segment(100, 5000)});  // DISCARD: out of range
  EXPECT_EQ(segments_request(**dev, 11, 1), 1);
  put_segments({segment(100, 4, kUnmap)});  // DISCARD with "unmap", and any unknown flag: UNSUPP (§5.2.6.2)
  EXPECT_EQ(segments_request(**dev, 11, 1), 2);
  put_segments({segment(100, 4, 2)});
  EXPECT_EQ(segments_request(**dev, 13, 1), 2);
  put_segments({segment(100, 4)});  // 17 segments: more than max_*_seg
  EXPECT_EQ(segments_request(**dev, 13, BlockDevice::kMaxDiscardSegments + 1), 2);
  put_header(99, 0);
  (*dev)->handle(memory_, chain({{kHeader, 16, false}, {kStatus, 1, true}}));
  EXPECT_EQ(status(), 2);  // UNSUPP
}

// GET_ID returns the serial the VMM gave, NUL-padded, or 20 NUL bytes (an empty ID string, §5.2.6);
// never the host file's name.
TEST_F(BlockTest, GetIdIsTheSerialOrNothing) {
  const auto get_id = [&](BlockDevice& dev) {
    put_header(8, 0);
    EXPECT_TRUE(memory_.write(kData, std::vector<std::uint8_t>(20, 0xee)));
    EXPECT_EQ(dev.handle(memory_, chain({{kHeader, 16, false}, {kData, 20, true}, {kStatus, 1, true}})), 21U);
    EXPECT_EQ(status(), 0);
    std::vector<std::uint8_t> id(20);
    EXPECT_TRUE(memory_.read(kData, id));
    return std::string(id.begin(), id.end());
  };
  {
    auto dev = BlockDevice::open(disk_.path(), false);
    ASSERT_TRUE(dev);
    EXPECT_EQ(get_id(**dev), std::string(20, '\0'));
  }
  {
    auto dev = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = "hvkit-disk-1"});
    ASSERT_TRUE(dev);
    EXPECT_EQ(get_id(**dev), std::string("hvkit-disk-1") + std::string(8, '\0'));
  }
  {
    const std::string twenty = "ABCDEFGHIJ 123456789";  // 20 bytes: no NUL terminator
    auto dev = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = twenty});
    ASSERT_TRUE(dev);
    EXPECT_EQ(get_id(**dev), twenty);
  }
  for (const std::string& bad : {std::string(21, 'x'), std::string("tab\there"), std::string("caf\xc3\xa9")}) {
    auto dev = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = bad});
    ASSERT_FALSE(dev) << bad;
    EXPECT_EQ(dev.error().kind(), hv::ErrorKind::InvalidArgument);
  }
}

// Overlapping segments are the driver's error: IOERR, and nothing is zeroed (every segment is
// checked first). Adjacent and empty segments are fine.
TEST_F(BlockTest, WriteZeroesRefusesOverlappingSegments) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  const auto data = pattern(32 * 512, 5);
  disk_.write(0, data);
  for (const auto& overlapping : std::vector<std::vector<std::array<std::uint64_t, 2>>>{
           {segment(0, 8), segment(4, 8)},                   // partly
           {segment(16, 4), segment(0, 8), segment(16, 4)},  // the same range twice, not in order
           {segment(0, 32), segment(8, 1, kUnmap)},          // one inside another
       }) {
    put_segments(overlapping);
    EXPECT_EQ(segments_request(**dev, 13, overlapping.size()), 1);
    EXPECT_EQ(segments_request(**dev, 11, overlapping.size()), overlapping.back()[1] >> 32 != 0 ? 2 : 1) << "discard";
    EXPECT_EQ(disk_.read(0, data.size()), data);
  }
  put_segments({segment(8, 8), segment(0, 8), segment(4, 0)});  // adjacent, and an empty one inside
  EXPECT_EQ(segments_request(**dev, 13, 3), 0);
  EXPECT_EQ(disk_.read(0, 16 * 512), std::vector<std::uint8_t>(16 * 512, 0));
  EXPECT_EQ(disk_.read(16 * 512, 16 * 512), std::vector<std::uint8_t>(data.begin() + 16 * 512, data.end()));
}

// One WRITE_ZEROES request zeroes at most 128 MiB: 16 segments of at most 8 MiB, which cannot
// overlap. (The attack was 16 whole-disk segments, 256 times per notification.)
TEST_F(BlockTest, WriteZeroesIsBoundedPerRequest) {
  const TempDisk big(256 * kMiB);
  auto dev = BlockDevice::open(big.path(), false);
  ASSERT_TRUE(dev);
  std::array<std::uint8_t, 64> config{};
  (*dev)->read_config(0, config);
  std::uint32_t max_sectors = 0, max_segments = 0;
  std::memcpy(&max_sectors, config.data() + 48, 4);
  std::memcpy(&max_segments, config.data() + 52, 4);
  EXPECT_EQ(std::uint64_t{max_sectors} * max_segments * 512, BlockDevice::kMaxRequestBytes);
  EXPECT_EQ(config[56], 1);  // write_zeroes_may_unmap
  put_segments({segment(0, BlockDevice::kMaxWriteZeroesSectors + 1)});
  EXPECT_EQ(segments_request(**dev, 13, 1), 1);
  put_segments({segment(0, 524288)});  // the whole disk in one segment
  EXPECT_EQ(segments_request(**dev, 13, 1), 1);
  std::vector<std::array<std::uint64_t, 2>> all;
  for (std::uint32_t i = 0; i < BlockDevice::kMaxDiscardSegments; ++i)
    all.push_back(segment(std::uint64_t{i} * BlockDevice::kMaxWriteZeroesSectors, BlockDevice::kMaxWriteZeroesSectors));
  put_segments(all);
  EXPECT_EQ(segments_request(**dev, 13, all.size()), 0);  // exactly 128 MiB
}

// With "unmap", write-zeroes punches a hole: a sparse image stays sparse (and one written becomes
// sparse again), and the range reads as zeroes.
TEST_F(BlockTest, WriteZeroesWithUnmapKeepsASparseImageSparse) {
  const std::uint64_t empty = disk_.allocated_blocks();
  disk_.write(0, pattern(256 * 1024, 3));
  const std::uint64_t written = disk_.allocated_blocks();
  if (written <= empty) GTEST_SKIP() << "the file system does not report allocation in st_blocks";
  {
    // Does this file system punch holes at all? (ext4, xfs, btrfs and tmpfs do.)
    const TempDisk probe;
    const int fd = ::open(probe.path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const bool punches = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    ::close(fd);
    if (!punches) GTEST_SKIP() << "the file system cannot punch holes";
  }
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  put_segments({segment(0, 2048, kUnmap)});  // the whole 1 MiB disk
  EXPECT_EQ(segments_request(**dev, 13, 1), 0);
  EXPECT_LE(disk_.allocated_blocks(), empty) << "written: " << written;
  EXPECT_EQ(disk_.read(0, kDiskBytes), std::vector<std::uint8_t>(kDiskBytes, 0));
  // Without "unmap" the range reads as zeroes too (allocated or not: the spec asks only that).
  disk_.write(0, pattern(4096, 1));
  put_segments({segment(0, 8)});
  EXPECT_EQ(segments_request(**dev, 13, 1), 0);
  EXPECT_EQ(disk_.read(0, 4096), std::vector<std::uint8_t>(4096, 0));
}

// tmpfs has no FALLOC_FL_ZERO_RANGE (where the fallback wrote ~1 TiB of zeroes): zeroes
// there come from a punched hole, with and without "unmap".
TEST_F(BlockTest, WriteZeroesOnTmpfs) {
  struct statfs fs {};
  constexpr long kTmpfsMagic = 0x01021994;
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != kTmpfsMagic) GTEST_SKIP() << "no tmpfs at /dev/shm";
  const TempDisk shm(64 * kMiB, "/dev/shm");
  auto dev = BlockDevice::open(shm.path(), false);
  ASSERT_TRUE(dev);
  for (const std::uint32_t flags : {0U, kUnmap}) {
    shm.write(kMiB, pattern(kMiB, 7));
    put_segments({segment(kMiB / 512, BlockDevice::kMaxWriteZeroesSectors, flags)});
    const auto start = Clock::now();
    EXPECT_EQ(segments_request(**dev, 13, 1), 0);
    EXPECT_EQ(shm.read(kMiB, 8 * kMiB), std::vector<std::uint8_t>(8 * kMiB, 0)) << "flags " << flags;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  }
  EXPECT_EQ(shm.allocated_blocks(), 0U);  // the last one unmapped
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
  // A copy that fails part-way (the second data buffer is outside RAM) ends the request with IOERR.
  put_header(0, 0);
  ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
  EXPECT_EQ(
      (*dev)->handle(memory_,
                     chain({{kHeader, 16, false}, {kData, 512, true}, {0x7fff0000, 512, true}, {kStatus, 1, true}})),
      1U);  // the status only: no data counts as written
  EXPECT_EQ(status(), 1);
  // A hand-made chain whose byte counts promise more than its buffers hold.
  DescriptorChain lying = chain({{kHeader, 16, false}, {kStatus, 1, true}});
  lying.writable_bytes = 4096;
  put_header(0, 0);
  (*dev)->handle(memory_, lying);
}

// The file shrinking under the VM: a read past its new end is IOERR, never stale or invented data.
TEST_F(BlockTest, AShrunkenImageIsAnIoError) {
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  ASSERT_EQ(::truncate(disk_.path().c_str(), 1024), 0);  // 2 sectors left; the capacity still says 2048
  put_header(0, 4);
  ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
  EXPECT_EQ((*dev)->handle(memory_, chain({{kHeader, 16, false}, {kData, 512, true}, {kStatus, 1, true}})), 1U);
  EXPECT_EQ(status(), 1);
}

// A driver that breaks the queue protocol (an available index more than a queue ahead) stops the
// device: DEVICE_NEEDS_RESET, no spinning, until the driver resets it; then it works again.
TEST_F(BlockTest, ABrokenQueueStopsTheDeviceUntilReset) {
  auto line = std::make_shared<Line>();
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  MmioTransport transport(shared_memory_, *dev, line);
  {
    MockSplitDriver driver(memory_, kRings, 8);
    start(transport, driver, 8);
    driver.set_avail_index(100);
    write_register(transport, 0x50, 0);
    ASSERT_TRUE(wait_until([&] { return (*dev)->broken(); }));
    EXPECT_TRUE(wait_until([&] { return (transport.status() & kStatusDeviceNeedsReset) != 0; }));
    write_register(transport, 0x50, 0);  // ignored while it needs a reset
    EXPECT_EQ(driver.used_index(), 0);
  }
  write_register(transport, 0x70, 0);
  EXPECT_FALSE((*dev)->broken());
  MockSplitDriver driver(memory_, kRings, 8);
  start(transport, driver, 8);
  put_header(4, 0);  // FLUSH
  const BufferSpec flush[] = {{kHeader, 16, false}, {kStatus, 1, true}};
  driver.make_available(driver.add_chain(flush));
  write_register(transport, 0x50, 0);
  ASSERT_TRUE(wait_until([&] { return driver.used_index() == 1; }));
  EXPECT_EQ(status(), 0);
}

// A FIFO, a device and a directory are refused without waiting (a FIFO's open would block until a
// writer came): BlockDevice::open never opens anything but a regular file.
TEST_F(BlockTest, OnlyRegularFilesAreOpened) {
  char dir[] = "/tmp/hvkit-blk-fifo-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/null"), std::string(dir)}) {
    for (const bool read_only : {true, false}) {
      auto opening = std::async(std::launch::async, [&] { return BlockDevice::open(path, read_only); });
      if (opening.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        ADD_FAILURE() << "BlockDevice::open(" << path << ") blocks";
        // Release it: a writer arriving lets a blocked reader's open return.
        const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        opening.wait();
        if (writer >= 0) ::close(writer);
      }
      auto dev = opening.get();
      ASSERT_FALSE(dev) << path;
      EXPECT_EQ(dev.error().kind(), hv::ErrorKind::InvalidArgument) << dev.error().to_string();
      EXPECT_NE(dev.error().message().find("not a regular file"), std::string::npos) << dev.error().to_string();
    }
  }
  ::unlink(fifo.c_str());
  ::rmdir(dir);
}

// One writer per image, or any number of readers: a second read-write open fails (Busy), in this
// process or another; read-only opens share; closing the device releases the image.
TEST_F(BlockTest, AnImageHasOneWriterOrManyReaders) {
  {
    auto first = BlockDevice::open(disk_.path(), false);
    ASSERT_TRUE(first);
    for (const bool read_only : {false, true}) {
      auto second = BlockDevice::open(disk_.path(), read_only);
      ASSERT_FALSE(second) << "read_only " << read_only;
      EXPECT_EQ(second.error().kind(), hv::ErrorKind::Busy);
      EXPECT_NE(second.error().message().find("is in use"), std::string::npos) << second.error().to_string();
    }
    // Another process (another VMM) is refused the same way.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto theirs = BlockDevice::open(disk_.path(), false);
      ::_exit(!theirs && theirs.error().kind() == hv::ErrorKind::Busy ? 0 : 1);
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "the other process could open the image";
  }
  {
    auto a = BlockDevice::open(disk_.path(), true);
    auto b = BlockDevice::open(disk_.path(), true);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    auto writer = BlockDevice::open(disk_.path(), false);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().kind(), hv::ErrorKind::Busy);
  }
  EXPECT_TRUE(BlockDevice::open(disk_.path(), false));  // every device is gone: free again
}

TEST_F(BlockTest, ThroughTheMmioTransport) {
  auto line = std::make_shared<Line>();
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  MmioTransport transport(shared_memory_, *dev, line);
  std::uint8_t capacity[8];
  transport.read(0x100, capacity);
  std::uint64_t sectors = 0;
  std::memcpy(&sectors, capacity, 8);
  EXPECT_EQ(sectors, 2048U);
  MockSplitDriver driver(memory_, kRings, 8);
  start(transport, driver, 8);
  ASSERT_TRUE(memory_.write(kData, pattern(512, 77)));
  put_header(1, 5);
  const BufferSpec request[] = {{kHeader, 16, false}, {kData, 512, false}, {kStatus, 1, true}};
  driver.make_available(driver.add_chain(request));
  write_register(transport, 0x50, 0);
  // The I/O thread answers; a driver polls (or takes the interrupt).
  ASSERT_TRUE(wait_until([&] { return driver.used_index() == 1; }));
  EXPECT_EQ(driver.used(0).length, 1U);
  EXPECT_EQ(status(), 0);
  EXPECT_TRUE(wait_until([&] { return line->level.load(); }));
  EXPECT_EQ(disk_.read(5 * 512, 512), pattern(512, 77));
}

// One notification for a full queue: the workers serve all 256 requests (none lost, the driver never
// notifies again), never more of them in flight at once than the queue depth.
TEST_F(BlockTest, OneNotificationServesEveryRequestWithBoundedConcurrency) {
  auto line = std::make_shared<Line>();
  auto dev = BlockDevice::open(disk_.path(), false);
  ASSERT_TRUE(dev);
  MmioTransport transport(shared_memory_, *dev, line);
  MockSplitDriver driver(memory_, kRings, 256, false, kIndirect);
  start(transport, driver, 256);
  put_header(0, 0);  // IN, sector 0, 1 MiB (the whole disk) per request
  const BufferSpec read_all[] = {{kHeader, 16, false}, {kBig, 1 << 20, true}, {kStatus, 1, true}};
  for (int i = 0; i < 256; ++i) driver.make_available(driver.add_indirect_chain(read_all));
  write_register(transport, 0x50, 0);
  ASSERT_TRUE(wait_until([&] { return driver.used_index() == 256; })) << driver.used_index();
  // A worker records a request after publishing it as used.
  ASSERT_TRUE(wait_until([&] { return (*dev)->stats().requests == 256; })) << (*dev)->stats().requests;
  for (std::uint16_t i = 0; i < 256; ++i) EXPECT_EQ(driver.used(i).length, (1U << 20) + 1) << i;
  EXPECT_EQ(status(), 0);
  auto stats = (*dev)->stats();
  EXPECT_EQ(stats.notifications, 1U);
  EXPECT_EQ(stats.requests, 256U);
  EXPECT_GE(stats.max_in_flight, 1U);
  EXPECT_LE(stats.max_in_flight, BlockOptions{}.queue_depth);
  // Now 256 requests that move no data (FLUSH).
  driver.reset_descriptors();
  put_header(4, 0, kHeader + 0x100);
  const BufferSpec flush[] = {{kHeader + 0x100, 16, false}, {kStatus, 1, true}};
  for (int i = 0; i < 256; ++i) driver.make_available(driver.add_indirect_chain(flush));
  write_register(transport, 0x50, 0);
  ASSERT_TRUE(wait_until([&] { return driver.used_index() == 512 % 65536; })) << driver.used_index();
  ASSERT_TRUE(wait_until([&] { return (*dev)->stats().requests == 512; })) << (*dev)->stats().requests;
  const auto before = stats;
  stats = (*dev)->stats();
  EXPECT_EQ(stats.notifications, 2U);
  EXPECT_EQ(stats.requests, 512U);
  EXPECT_LE(stats.max_in_flight, BlockOptions{}.queue_depth);
  EXPECT_EQ(stats.abandoned, before.abandoned);
  EXPECT_TRUE(line->level.load());
}

// The attack: 256 requests from one notification, each one indirect chain of 32766 × 4 KiB
// writable buffers (just under 128 MiB to read). The chain cursor makes each request linear in its
// buffers, and a reset (Status = 0) — or the transport's end — stops the flood at the request in
// progress, within a chunk, instead of after the 256 requests (~10 s here before the fix).
class BlockFloodTest : public BlockTest {
 protected:
  static constexpr std::uint32_t kBuffers = 32766;
  static constexpr std::uint64_t kTable = 0x100000;  // 32768 × 16 bytes = 512 KiB
  void SetUp() override {
    BlockTest::SetUp();
    put_header(0, 0);
    driver_.emplace(memory_, kRings, 256);
    auto& d = *driver_;
    const auto table = d.config();
    // The table: header, the buffers (all one page), status.
    d.write_descriptor(kTable, 0, kHeader, 16, 1, 1);
    for (std::uint32_t i = 1; i <= kBuffers; ++i)
      d.write_descriptor(kTable, static_cast<std::uint16_t>(i), kData, 4096, 3, static_cast<std::uint16_t>(i + 1));
    d.write_descriptor(kTable, kBuffers + 1, kStatus, 1, 2, 0);
    for (std::uint16_t i = 0; i < 256; ++i) {
      d.write_descriptor(table.descriptor_table, i, kTable, (kBuffers + 2) * 16, 4, 0);
      d.make_available(i);
    }
  }
  // Starts the flood on a new transport and waits until the device has answered one request.
  std::unique_ptr<MmioTransport> flood(const std::shared_ptr<BlockDevice>& dev, std::shared_ptr<Line> line) {
    auto transport = std::make_unique<MmioTransport>(shared_memory_, dev, std::move(line));
    start(*transport, *driver_, 256);
    write_register(*transport, 0x50, 0);
    EXPECT_TRUE(wait_until([&] { return driver_->used_index() >= 1; }));
    EXPECT_EQ(status(), 0);
    EXPECT_EQ(driver_->used(0).length, kBuffers * 4096 + 1);
    return transport;
  }
  std::optional<MockSplitDriver> driver_;
  TempDisk big_{128 * kMiB};
};

TEST_F(BlockFloodTest, AResetStopsTheFloodAtOnce) {
  auto line = std::make_shared<Line>();
  auto dev = BlockDevice::open(big_.path(), false);
  ASSERT_TRUE(dev);
  auto transport = flood(*dev, line);
  const auto start = Clock::now();
  write_register(*transport, 0x70, 0);  // reset
  const auto took = Clock::now() - start;
  EXPECT_EQ(transport->status(), 0U);
  EXPECT_LT(took, std::chrono::milliseconds(500))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  const std::uint16_t used = driver_->used_index();
  EXPECT_LT(used, 256);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(driver_->used_index(), used);  // nothing after the reset
  EXPECT_EQ((*dev)->stats().requests, used);
  std::printf("reset during the flood: %lld us, %u of 256 requests served\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()), used);
}

TEST_F(BlockFloodTest, TheTransportsEndStopsTheFloodAtOnce) {
  auto line = std::make_shared<Line>();
  auto opened = BlockDevice::open(big_.path(), false);
  ASSERT_TRUE(opened);
  std::shared_ptr<BlockDevice> dev = std::move(*opened);
  auto transport = flood(dev, line);
  const auto start = Clock::now();
  transport.reset();  // what a machine's teardown does: the transport resets the device
  dev.reset();        // and then the device goes: its I/O thread is joined
  const auto took = Clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(500))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_LT(driver_->used_index(), 256);
}

// Each 128 MiB request of 32766 buffers, read in 64 KiB chunks, looks at each buffer about once
// (it looked at every buffer for every chunk: 32766 × 2048 visits).
TEST_F(BlockFloodTest, ChainIoVisitsEachBufferOnceForASequentialPass) {
  DescriptorChain c;
  c.buffers.push_back({kHeader, 16, false});
  for (std::uint32_t i = 0; i < kBuffers; ++i) c.buffers.push_back({kData, 4096, true});
  c.buffers.push_back({kStatus, 1, true});
  c.readable_bytes = 16;
  c.writable_bytes = std::uint64_t{kBuffers} * 4096 + 1;
  ChainIo io(memory_, c);
  std::vector<std::uint8_t> chunk(64 * 1024, 0x5a);
  std::uint64_t chunks = 0;
  for (std::uint64_t at = 0; at + chunk.size() <= c.writable_bytes - 1; at += chunk.size(), ++chunks)
    ASSERT_TRUE(io.write(at, chunk));
  const std::uint8_t status_byte = 0;
  ASSERT_TRUE(io.write(c.writable_bytes - 1, std::span(&status_byte, 1)));
  EXPECT_LE(io.buffers_visited(), c.buffers.size() + chunks + 2);
  // Going back starts again from the first buffer, and still reads the right bytes.
  std::array<std::uint8_t, 16> header{};
  put_header(0, 42);
  ASSERT_TRUE(io.read(0, header));
  std::uint64_t sector = 0;
  std::memcpy(&sector, header.data() + 8, 8);
  EXPECT_EQ(sector, 42U);
  ASSERT_TRUE(io.write(4096 * 3 + 10, std::span(&status_byte, 1)));
  ASSERT_TRUE(io.write(5, std::span(&status_byte, 1)));
}

// Readable and writable buffers interleaved (a hand-made chain; queues never build one): each
// stream is still its own buffers in order.
TEST(ChainIo, InterleavedStreams) {
  const hv::RegionSpec spec{0, 0x10000};
  auto memory = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  DescriptorChain c;
  c.buffers = {{0x1000, 3, false}, {0x2000, 5, true}, {0x1100, 0, false}, {0x1200, 4, false}, {0x2100, 2, true}};
  c.readable_bytes = 7;
  c.writable_bytes = 7;
  for (std::uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(memory.write_obj<std::uint8_t>(0x1000 + i, i));
  for (std::uint8_t i = 0; i < 4; ++i) ASSERT_TRUE(memory.write_obj<std::uint8_t>(0x1200 + i, 3 + i));
  ChainIo io(memory, c);
  std::array<std::uint8_t, 7> all{};
  for (std::size_t at = 0; at < all.size(); ++at) ASSERT_TRUE(io.read(at, std::span(all).subspan(at, 1)));
  EXPECT_EQ(all, (std::array<std::uint8_t, 7>{0, 1, 2, 3, 4, 5, 6}));
  const std::array<std::uint8_t, 7> out = {9, 8, 7, 6, 5, 4, 3};
  ASSERT_TRUE(io.write(0, std::span(out).first(4)));
  ASSERT_TRUE(io.write(4, std::span(out).subspan(4)));
  EXPECT_EQ(memory.read_obj<std::uint8_t>(0x2004).value(), 5);
  EXPECT_EQ(memory.read_obj<std::uint8_t>(0x2100).value(), 4);
  EXPECT_EQ(memory.read_obj<std::uint8_t>(0x2101).value(), 3);
  EXPECT_FALSE(io.write(6, std::span(out).first(2)));  // past the end
}

}  // namespace

// Multiqueue: more than one queue offers VIRTIO_BLK_F_MQ and num_queues (config offset 34); one queue
// (the default) offers no MQ; the count is bounded.
TEST_F(BlockTest, MultiqueueIsOfferedOnlyWithMoreThanOneQueue) {
  constexpr std::uint64_t kMq = 1ULL << 12;
  const auto num_queues = [](BlockDevice& dev) {
    std::array<std::uint8_t, 2> bytes{};
    dev.read_config(34, bytes);
    return static_cast<std::uint16_t>(bytes[0] | bytes[1] << 8);
  };
  {
    auto one = BlockDevice::open(disk_.path(), false);
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)->queue_count(), 1U);
    EXPECT_EQ((*one)->features() & kMq, 0U);
    EXPECT_EQ(num_queues(**one), 1U);
  }
  {
    auto four = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = {}, .num_queues = 4});
    ASSERT_TRUE(four);
    EXPECT_EQ((*four)->queue_count(), 4U);
    EXPECT_EQ((*four)->features() & kMq, kMq);
    EXPECT_EQ(num_queues(**four), 4U);
  }
  for (const std::uint16_t bad : {std::uint16_t{0}, static_cast<std::uint16_t>(BlockDevice::kMaxQueues + 1)}) {
    auto dev = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = {}, .num_queues = bad});
    ASSERT_FALSE(dev) << bad;
    EXPECT_EQ(dev.error().kind(), hv::ErrorKind::InvalidArgument);
  }
}
