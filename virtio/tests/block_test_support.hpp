#pragma once
// The virtio-blk tests' fixture: guest memory with rings, headers, data and statuses at fixed
// addresses, a temporary disk, and a driver's initialization of the MMIO transport. Shared by
// block_test.cpp and block_concurrency_test.cpp (which the tsan preset runs).
#include <gtest/gtest.h>

#include "device_test_support.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
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
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRings = 0x10000, kHeader = 0x20000, kData = 0x30000, kIndirect = 0x40000, kStatus = 0x80000,
                        kBig = 0x100000;  // kBig: 1 MiB up to the end of RAM
constexpr std::uint64_t kMemoryBytes = 0x200000;
constexpr std::uint64_t kDiskBytes = 1 << 20;  // 2048 sectors
constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint32_t kUnmap = 1;

class TempDisk {
 public:
  explicit TempDisk(std::uint64_t bytes = kDiskBytes, const std::string& dir = "/tmp") {
    std::string name = dir + "/hvkit-blk-XXXXXX";
    fd_ = ::mkstemp(name.data());
    path_ = name;
    if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) fd_ = -1;
  }
  ~TempDisk() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempDisk(const TempDisk&) = delete;
  TempDisk& operator=(const TempDisk&) = delete;
  std::vector<std::uint8_t> read(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    return out;
  }
  void write(std::uint64_t offset, const std::vector<std::uint8_t>& bytes) const {
    EXPECT_EQ(::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
    ::fsync(fd_);
  }
  std::uint64_t allocated_blocks() const {
    struct stat st {};
    EXPECT_EQ(::fstat(fd_, &st), 0);
    return static_cast<std::uint64_t>(st.st_blocks);
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

using Line = hvtest::RecordingLine;
using hvtest::wait_until;

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec spec{0, kMemoryBytes};
    memory_ = std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }
  void put_header(std::uint32_t type, std::uint64_t sector, std::uint64_t at = kHeader) {
    ASSERT_TRUE(memory_.write_obj(at, type));
    ASSERT_TRUE(memory_.write_obj<std::uint32_t>(at + 4, 0));
    ASSERT_TRUE(memory_.write_obj(at + 8, sector));
  }
  void put_segments(const std::vector<std::array<std::uint64_t, 2>>& segments) {
    // {sector, sectors | flags << 32} per segment, as the spec lays them out.
    for (std::size_t i = 0; i < segments.size(); ++i) ASSERT_TRUE(memory_.write_obj(kData + 16 * i, segments[i]));
  }
  static std::array<std::uint64_t, 2> segment(std::uint64_t sector, std::uint32_t sectors, std::uint32_t flags = 0) {
    return {sector, std::uint64_t{sectors} | std::uint64_t{flags} << 32};
  }
  std::uint8_t status() { return memory_.read_obj<std::uint8_t>(kStatus).value(); }
  static DescriptorChain chain(std::vector<Buffer> buffers) {
    DescriptorChain c;
    for (const auto& b : buffers) (b.device_writable ? c.writable_bytes : c.readable_bytes) += b.length;
    c.buffers = std::move(buffers);
    return c;
  }
  // A WRITE_ZEROES or DISCARD request with `count` segments at kData.
  std::uint8_t segments_request(BlockDevice& dev, std::uint32_t type, std::size_t count) {
    put_header(type, 0);
    EXPECT_TRUE(memory_.write_obj<std::uint8_t>(kStatus, 0xaa));
    dev.handle(
        memory_,
        chain({{kHeader, 16, false}, {kData, static_cast<std::uint32_t>(16 * count), false}, {kStatus, 1, true}}));
    return status();
  }
  std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 7 + i / 512);
    return p;
  }
  // Takes `transport` through the driver's initialization with queue 0 at `driver`'s rings.
  static void start(MmioTransport& transport, const MockSplitDriver& driver, std::uint16_t size) {
    const auto c = driver.config();
    const std::vector<std::pair<std::uint64_t, std::uint32_t>> writes = {
        {0x70, 1},
        {0x70, 3},
        {0x24, 0},
        {0x20, 1U << 28},  // INDIRECT_DESC
        {0x24, 1},
        {0x20, 1},  // VERSION_1
        {0x70, 11},
        {0x30, 0},
        {0x38, size},
        {0x80, static_cast<std::uint32_t>(c.descriptor_table)},
        {0x90, static_cast<std::uint32_t>(c.available_ring)},
        {0xa0, static_cast<std::uint32_t>(c.used_ring)},
        {0x44, 1},
        {0x70, 15}};
    for (const auto& [reg, value] : writes) write_register(transport, reg, value);
    ASSERT_EQ(transport.status(), 15U);
  }
  static void write_register(MmioTransport& transport, std::uint64_t offset, std::uint32_t v) {
    std::uint8_t b[4];
    std::memcpy(b, &v, 4);
    transport.write(offset, b);
  }
  // The transport and the device share the memory; the tests use it through memory_.
  std::shared_ptr<hv::GuestMemory> shared_memory_ = std::make_shared<hv::GuestMemory>();
  hv::GuestMemory& memory_ = *shared_memory_;
  TempDisk disk_;
};

}  // namespace
