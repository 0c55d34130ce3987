// GuestRegion::map_shared: guest RAM that another process owns, received as a descriptor (a vhost-user
// backend's view of its frontend's memory). The mapping is shared both ways, starts at the given file
// offset, and every geometry a peer could send to fault or confuse this process is refused up front:
// misalignment, zero or absurd sizes, offset + size wrapping, a file shorter than the range (SIGBUS on
// first touch), and descriptors that are not regular files.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"

namespace {

constexpr std::uint64_t kPage = 0x1000;

// A memfd of `size` bytes, as a frontend would send it.
hv::UniqueFd make_memfd(std::uint64_t size) {
  hv::UniqueFd fd(::memfd_create("shared-region-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  return fd;
}

// A second descriptor for the same file: map_shared takes ownership of the one it is given.
hv::UniqueFd dup_fd(const hv::UniqueFd& fd) { return hv::UniqueFd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0)); }

TEST(SharedRegion, MapsTheFileAtItsOffsetBothWays) {
  const hv::UniqueFd file = make_memfd(4 * kPage);
  // The region is the file's pages 2 and 3, at guest address 0x100000.
  auto region = hv::GuestRegion::map_shared(0x100000, 2 * kPage, dup_fd(file), 2 * kPage);
  ASSERT_TRUE(region) << region.error().to_string();
  EXPECT_EQ((*region)->backing(), hv::Backing::SharedFd);
  EXPECT_EQ((*region)->guest_base(), 0x100000U);
  EXPECT_EQ((*region)->size(), 2 * kPage);
  EXPECT_GE((*region)->memfd(), 0);

  // The peer's write shows in our mapping at offset - fd_offset ...
  const std::uint8_t theirs = 0x5a;
  ASSERT_EQ(::pwrite(file.get(), &theirs, 1, static_cast<off_t>(2 * kPage + 7)), 1);
  EXPECT_EQ((*region)->host()[7], theirs);
  // ... and ours, made through GuestMemory, reaches the peer's file.
  hv::GuestMemory memory;
  ASSERT_TRUE(memory.add_region(*region));
  ASSERT_TRUE(memory.write_obj<std::uint32_t>(0x100000 + kPage, 0xdeadbeef));
  std::uint32_t seen = 0;
  ASSERT_EQ(::pread(file.get(), &seen, sizeof seen, static_cast<off_t>(3 * kPage)), 4);
  EXPECT_EQ(seen, 0xdeadbeefU);
}

TEST(SharedRegion, RefusesBadGeometry) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  struct Case {
    std::uint64_t base, size, offset;
    hv::ErrorKind kind;
  };
  const std::array cases = {
      Case{0x1000, 0, 0, hv::ErrorKind::InvalidArgument},                 // zero length
      Case{0x1001, kPage, 0, hv::ErrorKind::InvalidArgument},             // misaligned base
      Case{0x1000, kPage + 1, 0, hv::ErrorKind::InvalidArgument},         // misaligned size
      Case{0x1000, kPage, 0x10, hv::ErrorKind::InvalidArgument},          // misaligned offset
      Case{kMax - 0xfff, 2 * kPage, 0, hv::ErrorKind::OutOfRange},        // base + size wraps
      Case{0, hv::kMaxRegionSize + kPage, 0, hv::ErrorKind::OutOfRange},  // absurd size
      Case{0, kPage, kMax - 0xfff, hv::ErrorKind::OutOfRange},            // offset + size wraps
      Case{0, kPage, std::uint64_t{1} << 63, hv::ErrorKind::OutOfRange},  // beyond any file offset
      Case{0, 2 * kPage, 4 * kPage, hv::ErrorKind::OutOfRange},           // past the end of the file
  };
  const hv::UniqueFd file = make_memfd(4 * kPage);
  for (const auto& c : cases) {
    auto r = hv::GuestRegion::map_shared(c.base, c.size, dup_fd(file), c.offset);
    ASSERT_FALSE(r) << std::hex << c.base << "+" << c.size << " @" << c.offset;
    EXPECT_EQ(r.error().kind(), c.kind) << r.error().to_string();
  }
}

// Touching a shared mapping past the end of its file is SIGBUS: a file one page short is refused,
// one that ends exactly at the range's end is accepted.
TEST(SharedRegion, RefusesAFileShorterThanTheRange) {
  const hv::UniqueFd file = make_memfd(3 * kPage);
  auto short_by_a_page = hv::GuestRegion::map_shared(0, 2 * kPage, dup_fd(file), 2 * kPage);
  ASSERT_FALSE(short_by_a_page);
  EXPECT_EQ(short_by_a_page.error().kind(), hv::ErrorKind::OutOfRange) << short_by_a_page.error().to_string();
  auto exact = hv::GuestRegion::map_shared(0, 2 * kPage, dup_fd(file), kPage);
  ASSERT_TRUE(exact) << exact.error().to_string();
  (*exact)->host()[2 * kPage - 1] = 1;  // the last byte is backed
}

TEST(SharedRegion, RefusesWhatIsNotARegularFile) {
  std::array<int, 2> pipe_fds{};
  ASSERT_EQ(::pipe2(pipe_fds.data(), O_CLOEXEC), 0);
  const hv::UniqueFd write_end(pipe_fds[1]);
  auto from_pipe = hv::GuestRegion::map_shared(0, kPage, hv::UniqueFd(pipe_fds[0]), 0);
  ASSERT_FALSE(from_pipe);
  EXPECT_EQ(from_pipe.error().kind(), hv::ErrorKind::InvalidArgument) << from_pipe.error().to_string();

  auto no_fd = hv::GuestRegion::map_shared(0, kPage, hv::UniqueFd{}, 0);
  ASSERT_FALSE(no_fd);
  EXPECT_EQ(no_fd.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST(SharedRegion, OwnsItsDescriptor) {
  const hv::UniqueFd file = make_memfd(kPage);
  hv::UniqueFd mine = dup_fd(file);
  const int number = mine.get();
  {
    auto region = hv::GuestRegion::map_shared(0, kPage, std::move(mine), 0);
    ASSERT_TRUE(region) << region.error().to_string();
    EXPECT_EQ((*region)->memfd(), number);
    EXPECT_GE(::fcntl(number, F_GETFD), 0);
  }
  EXPECT_EQ(::fcntl(number, F_GETFD), -1) << "the region's descriptor outlived it";
}

}  // namespace
