#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

hv::GuestMemory two_adjacent_regions_and_a_gap() {
  // [0x0000, 0x2000) [0x2000, 0x3000)  gap  [0x5000, 0x6000)
  const hv::RegionSpec specs[] = {{0x0, 0x2000}, {0x2000, 0x1000}, {0x5000, 0x1000}};
  auto m = hv::GuestMemory::create(specs);
  EXPECT_TRUE(m) << m.error().to_string();
  return std::move(*m);
}

TEST(GuestRegion, RejectsBadGeometry) {
  struct Case {
    std::uint64_t base, size;
    hv::ErrorKind kind;
  };
  const Case cases[] = {
      {0x1000, 0, hv::ErrorKind::InvalidArgument},                  // zero length
      {0x1001, 0x1000, hv::ErrorKind::InvalidArgument},             // misaligned base
      {0x1000, 0x1001, hv::ErrorKind::InvalidArgument},             // misaligned size
      {kMax - 0xfff, 0x2000, hv::ErrorKind::OutOfRange},            // wraps past 2^64
      {0, hv::kMaxRegionSize + 0x1000, hv::ErrorKind::OutOfRange},  // absurd size
  };
  for (const auto& c : cases) {
    auto r = hv::GuestRegion::create(c.base, c.size);
    ASSERT_FALSE(r) << std::hex << c.base << "+" << c.size;
    EXPECT_EQ(r.error().kind(), c.kind) << r.error().to_string();
  }
}

TEST(GuestRegion, MemfdBackingIsShareableAndSizeSealed) {
  auto r = hv::GuestRegion::create(0x100000, 0x4000, hv::Backing::Memfd);
  ASSERT_TRUE(r) << r.error().to_string();
  const int fd = (*r)->memfd();
  ASSERT_GE(fd, 0);
  EXPECT_NE(::ftruncate(fd, 0x1000), 0) << "a peer must not be able to shrink guest RAM under us";
  (*r)->host()[5] = 0xab;
  std::uint8_t byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, 5), 1);
  EXPECT_EQ(byte, 0xab);
}

// Guest RAM handed to a peer as a memfd must not become a program: created with MFD_NOEXEC_SEAL
// (Linux 6.3+), it has no execute bits and carries F_SEAL_EXEC, so no one can chmod +x and execveat
// it. Kernels before 6.3 (Debian 12's 6.1) lack the flag; there the region is made without it and this
// test is skipped, saying so.
TEST(GuestRegion, MemfdBackingIsSealedNonExecutableWhereTheKernelCan) {
  constexpr unsigned kNoexecSeal = 0x0008U;  // MFD_NOEXEC_SEAL, not in Debian 12's headers
  constexpr int kSealExec = 0x0020;          // F_SEAL_EXEC, likewise
  const int probe = ::memfd_create("hvkit-noexec-probe", MFD_CLOEXEC | kNoexecSeal);
  if (probe < 0) {
    GTEST_SKIP() << "this kernel has no MFD_NOEXEC_SEAL (Linux < 6.3; memfd_create: " << std::strerror(errno)
                 << "): guest RAM memfds cannot be sealed non-executable here";
  }
  ::close(probe);
  auto r = hv::GuestRegion::create(0x100000, 0x4000, hv::Backing::Memfd);
  ASSERT_TRUE(r) << r.error().to_string();
  const int fd = (*r)->memfd();
  ASSERT_GE(fd, 0);
  const int seals = ::fcntl(fd, F_GET_SEALS);
  ASSERT_GE(seals, 0) << std::strerror(errno);
  EXPECT_NE(seals & kSealExec, 0) << "the guest-RAM memfd is not sealed against exec (seals " << seals << ")";
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode & 0111, 0U) << "the guest-RAM memfd has execute bits";
  EXPECT_NE(::fchmod(fd, 0755), 0) << "a peer could make guest RAM executable";
}

TEST(GuestRegion, AnonymousHasNoFdAndStartsZeroed) {
  auto r = hv::GuestRegion::create(0, 0x2000);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->memfd(), -1);
  for (auto b : (*r)->host()) ASSERT_EQ(b, 0);
}

TEST(GuestMemory, RejectsOverlappingRegions) {
  auto m = two_adjacent_regions_and_a_gap();
  auto overlapping = hv::GuestRegion::create(0x2000, 0x4000);  // hits [0x2000,0x3000) and [0x5000,..)
  ASSERT_TRUE(overlapping);
  auto r = m.add_region(*overlapping);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::Overlap);
  EXPECT_EQ(m.regions().size(), 3U);
  auto filler = hv::GuestRegion::create(0x3000, 0x2000);  // exactly the gap
  ASSERT_TRUE(filler);
  EXPECT_TRUE(m.add_region(*filler));
  EXPECT_EQ(m.regions().size(), 4U);
}

TEST(GuestMemory, ReadBackWhatWasWritten) {
  auto m = two_adjacent_regions_and_a_gap();
  std::array<std::uint8_t, 16> in{};
  std::iota(in.begin(), in.end(), 1);
  ASSERT_TRUE(m.write(0x5010, in));
  std::array<std::uint8_t, 16> out{};
  ASSERT_TRUE(m.read(0x5010, out));
  EXPECT_EQ(in, out);
  ASSERT_TRUE(m.write_obj<std::uint64_t>(0x1ff8, 0x1122334455667788ULL));
  auto v = m.read_obj<std::uint64_t>(0x1ff8);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x1122334455667788ULL);
}

TEST(GuestMemory, ZeroLengthAndWrappingAccessesAreRejected) {
  auto m = two_adjacent_regions_and_a_gap();
  std::array<std::uint8_t, 4> buf{};
  auto zero = m.read(0x10, std::span<std::uint8_t>());
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().kind(), hv::ErrorKind::InvalidArgument);
  auto wrap = m.read(kMax - 1, buf);
  ASSERT_FALSE(wrap);
  EXPECT_EQ(wrap.error().kind(), hv::ErrorKind::OutOfRange);
  auto unmapped = m.write(0x4000, buf);
  ASSERT_FALSE(unmapped);
  EXPECT_EQ(unmapped.error().kind(), hv::ErrorKind::OutOfRange);
}

TEST(GuestMemory, CrossingRegionsOnlyWhenAsked) {
  auto m = two_adjacent_regions_and_a_gap();
  const std::array<std::uint8_t, 8> in{1, 2, 3, 4, 5, 6, 7, 8};
  auto denied = m.write(0x1ffc, in);  // 4 bytes in each of two adjacent regions
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind(), hv::ErrorKind::OutOfRange);
  ASSERT_TRUE(m.write(0x1ffc, in, hv::CrossRegion::Allow));
  std::array<std::uint8_t, 8> out{};
  ASSERT_TRUE(m.read(0x1ffc, out, hv::CrossRegion::Allow));
  EXPECT_EQ(in, out);
  EXPECT_EQ(m.regions()[1]->host()[0], 5);
}

TEST(GuestMemory, AFailedAccessChangesNothing) {
  auto m = two_adjacent_regions_and_a_gap();
  // 0x2ffc..0x3003 runs from the second region into the gap: the whole write must be refused,
  // including the four bytes that would have fit.
  const std::array<std::uint8_t, 8> in{9, 9, 9, 9, 9, 9, 9, 9};
  auto r = m.write(0x2ffc, in, hv::CrossRegion::Allow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::OutOfRange);
  for (std::size_t i = 0xffc; i < 0x1000; ++i) EXPECT_EQ(m.regions()[1]->host()[i], 0) << i;
  std::array<std::uint8_t, 8> out{7, 7, 7, 7, 7, 7, 7, 7};
  ASSERT_FALSE(m.read(0x2ffc, out, hv::CrossRegion::Allow));
  for (auto b : out) EXPECT_EQ(b, 7);
}

TEST(GuestMemory, SliceStaysInsideOneRegion) {
  auto m = two_adjacent_regions_and_a_gap();
  auto s = m.slice(0x5000, 0x1000);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 0x1000U);
  EXPECT_FALSE(m.slice(0x5000, 0x1001));
  EXPECT_FALSE(m.slice(0x1000, 0x2000));
}

TEST(GuestMemory, FindAndRemoveRegions) {
  auto m = two_adjacent_regions_and_a_gap();
  EXPECT_NE(m.find_region(0x2fff), nullptr);
  EXPECT_EQ(m.find_region(0x3000), nullptr);
  EXPECT_EQ(m.find_region(kMax), nullptr);
  auto missing = m.remove_region(0x1000);  // not the start of a region
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), hv::ErrorKind::NotFound);
  auto removed = m.remove_region(0x2000);
  ASSERT_TRUE(removed);
  EXPECT_EQ((*removed)->guest_base(), 0x2000U);
  EXPECT_EQ(m.find_region(0x2000), nullptr);
}

// The error kind of a failed access; nullopt when it succeeded.
std::optional<hv::ErrorKind> failure(const hv::Result<void>& r) {
  if (r) return std::nullopt;
  return r.error().kind();
}

// [0x0000, 0x2000) read-write, [0x2000, 0x3000) read-only (filled with 0x5a by its owner), gap,
// [0x5000, 0x6000) read-write.
hv::GuestMemory memory_with_a_rom() {
  const hv::RegionSpec specs[] = {
      {0x0, 0x2000}, {0x2000, 0x1000, hv::Permission::ReadOnly}, {0x5000, 0x1000, hv::Permission::ReadWrite}};
  auto m = hv::GuestMemory::create(specs);
  EXPECT_TRUE(m) << m.error().to_string();
  const auto rom = m->regions()[1]->host();  // the owner's view is writable: how a VMM fills a ROM
  std::fill(rom.begin(), rom.end(), std::uint8_t{0x5a});
  return std::move(*m);
}

TEST(GuestMemory, DeviceWritesToAReadOnlyRegionAreRefusedReadsAreNot) {
  auto m = memory_with_a_rom();
  EXPECT_EQ(m.permission(0x1fff), hv::Permission::ReadWrite);
  EXPECT_EQ(m.permission(0x2000), hv::Permission::ReadOnly);
  EXPECT_EQ(m.permission(0x2fff), hv::Permission::ReadOnly);
  EXPECT_EQ(m.permission(0x3000), std::nullopt);
  const std::array<std::uint8_t, 16> in{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (const std::uint64_t gpa : {0x2000ULL, 0x2010ULL, 0x2ff0ULL}) {
    auto r = m.write(gpa, in);
    ASSERT_FALSE(r) << std::hex << gpa;
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::PermissionDenied) << r.error().to_string();
    EXPECT_NE(r.error().message().find("read-only"), std::string::npos) << r.error().to_string();
  }
  auto obj = m.write_obj<std::uint32_t>(0x2ffc, 0x11223344);
  ASSERT_FALSE(obj);
  EXPECT_EQ(obj.error().kind(), hv::ErrorKind::PermissionDenied);
  for (auto b : m.regions()[1]->host()) ASSERT_EQ(b, 0x5a);
  // Reads are allowed, byte and object alike.
  std::array<std::uint8_t, 16> out{};
  ASSERT_TRUE(m.read(0x2010, out));
  for (auto b : out) EXPECT_EQ(b, 0x5a);
  auto word = m.read_obj<std::uint32_t>(0x2ffc);
  ASSERT_TRUE(word);
  EXPECT_EQ(*word, 0x5a5a5a5aU);
  // The read-write regions around it are unaffected.
  ASSERT_TRUE(m.write(0x1ff0, in));
  ASSERT_TRUE(m.write(0x5000, in));
}

TEST(GuestMemory, AWriteThatReachesAReadOnlyRegionChangesNothingInAnyRegion) {
  auto m = memory_with_a_rom();
  const std::array<std::uint8_t, 8> in{9, 9, 9, 9, 9, 9, 9, 9};
  // Four bytes in the read-write region, four in the read-only one: all or nothing, so nothing.
  auto r = m.write(0x1ffc, in, hv::CrossRegion::Allow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::PermissionDenied) << r.error().to_string();
  for (std::size_t i = 0x1ff8; i < 0x2000; ++i) EXPECT_EQ(m.regions()[0]->host()[i], 0) << i;
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(m.regions()[1]->host()[i], 0x5a) << i;
  // Reading across the same boundary is fine.
  std::array<std::uint8_t, 8> out{};
  ASSERT_TRUE(m.read(0x1ffc, out, hv::CrossRegion::Allow));
  EXPECT_EQ(out, (std::array<std::uint8_t, 8>{0, 0, 0, 0, 0x5a, 0x5a, 0x5a, 0x5a}));
  // A write across a read-only region into a gap is still OutOfRange: coverage is checked first.
  auto gap = m.write(0x2ffc, in, hv::CrossRegion::Allow);
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().kind(), hv::ErrorKind::OutOfRange);
}

TEST(GuestMemory, AWriteStartingInReadWriteMemoryIsRefusedWhenItsLastRegionIsReadOnly) {
  // Three adjacent regions, the read-only one last: the check covers every region of the access.
  const hv::RegionSpec specs[] = {{0x0, 0x1000}, {0x1000, 0x1000}, {0x2000, 0x1000, hv::Permission::ReadOnly}};
  auto m = hv::GuestMemory::create(specs);
  ASSERT_TRUE(m);
  const std::vector<std::uint8_t> in(0x2001, 0x77);
  auto r = m->write(0x0, in, hv::CrossRegion::Allow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::PermissionDenied);
  for (const auto& region : m->regions()) {
    for (auto b : region->host()) ASSERT_EQ(b, 0);
  }
  ASSERT_TRUE(m->write(0x0, std::span(in).first(0x2000), hv::CrossRegion::Allow));
}

TEST(GuestMemory, OnlyViewHandsOutReadOnlyMemory) {
  auto m = memory_with_a_rom();
  auto writable = m.slice(0x2000, 0x10);
  ASSERT_FALSE(writable) << "a writable span over read-only memory";
  EXPECT_EQ(writable.error().kind(), hv::ErrorKind::PermissionDenied);
  auto view = m.view(0x2000, 0x1000);
  ASSERT_TRUE(view) << view.error().to_string();
  EXPECT_EQ(view->size(), 0x1000U);
  EXPECT_EQ(view->front(), 0x5a);
  // Both views stay inside one region, whatever its permission.
  EXPECT_FALSE(m.view(0x1ff0, 0x20));
  EXPECT_FALSE(m.view(0x2ff0, 0x20));
  EXPECT_FALSE(m.view(0x3000, 1));
  auto ram = m.slice(0x1000, 0x1000);
  ASSERT_TRUE(ram);
  auto ram_view = m.view(0x1000, 0x1000);
  ASSERT_TRUE(ram_view);
  EXPECT_EQ(ram->data(), ram_view->data());
}

TEST(GuestMemory, PermissionsStayWithTheirRegionsThroughLayoutChanges) {
  auto m = memory_with_a_rom();
  const std::array<std::uint8_t, 4> in{1, 2, 3, 4};
  // A region inserted before the read-only one, and one removed before it, shift its index.
  ASSERT_TRUE(m.remove_region(0x0));
  auto low = hv::GuestRegion::create(0x0, 0x1000);
  ASSERT_TRUE(low);
  ASSERT_TRUE(m.add_region(*low, hv::Permission::ReadOnly));
  auto middle = hv::GuestRegion::create(0x1000, 0x1000);
  ASSERT_TRUE(middle);
  ASSERT_TRUE(m.add_region(*middle));  // read-write by default
  EXPECT_EQ(failure(m.write(0x0, in)), hv::ErrorKind::PermissionDenied);
  EXPECT_TRUE(m.write(0x1000, in));
  EXPECT_EQ(failure(m.write(0x2000, in)), hv::ErrorKind::PermissionDenied);
  EXPECT_TRUE(m.write(0x5000, in));
  // Re-adding a region is how its permission changes.
  auto rom = m.remove_region(0x2000);
  ASSERT_TRUE(rom);
  ASSERT_TRUE(m.add_region(*rom, hv::Permission::ReadWrite));
  EXPECT_TRUE(m.write(0x2000, in));
  EXPECT_EQ(m.permission(0x2000), hv::Permission::ReadWrite);
}

TEST(GuestMemory, RegionAtTopOfAddressSpace) {
  auto r = hv::GuestRegion::create(kMax - 0xfff, 0x1000);
  ASSERT_TRUE(r) << r.error().to_string();
  hv::GuestMemory m;
  ASSERT_TRUE(m.add_region(*r));
  std::array<std::uint8_t, 2> buf{};
  EXPECT_TRUE(m.read(kMax - 1, buf));
  EXPECT_FALSE(m.read(kMax, buf));  // would wrap
}

// --- The inline fast paths (issue 14): atomic words, queries, windows, the flat region table. ---

// Every byte of [0, 0x6000) as one pattern, so a read from the wrong place shows: byte(gpa).
std::uint8_t pattern_byte(std::uint64_t gpa) {
  return static_cast<std::uint8_t>((gpa ^ (gpa >> 8) ^ (gpa >> 16) ^ (gpa >> 56)) * 167U + 13U);
}

void fill_with_pattern(const hv::GuestMemory& m) {
  for (const auto& region : m.regions()) {
    const auto host = region->host();
    for (std::uint64_t i = 0; i < host.size(); ++i) host[i] = pattern_byte(region->guest_base() + i);
  }
}

std::vector<std::uint8_t> host_bytes(const hv::GuestMemory& m, std::uint64_t gpa, std::size_t len) {
  std::vector<std::uint8_t> out(len);
  EXPECT_TRUE(m.read(gpa, out, hv::CrossRegion::Allow)) << std::hex << gpa;
  return out;
}

template <class T>
void expect_load_store_round_trip(const hv::GuestMemory& m, std::uint64_t gpa) {
  struct Case {
    std::memory_order store, load;
  };
  const Case orders[] = {{std::memory_order_relaxed, std::memory_order_relaxed},
                         {std::memory_order_release, std::memory_order_acquire},
                         {std::memory_order_seq_cst, std::memory_order_seq_cst}};
  const auto before = host_bytes(m, gpa - 8, 8);
  const auto after = host_bytes(m, gpa + sizeof(T), 8);
  std::uint64_t seed = 0x8877665544332211ULL;
  for (const auto& order : orders) {
    const auto value = static_cast<T>(seed);
    seed = std::rotl(seed, 8) + 1;
    auto stored = m.store<T>(gpa, value, order.store);
    ASSERT_TRUE(stored) << stored.error().to_string();
    auto loaded = m.load<T>(gpa, order.load);
    ASSERT_TRUE(loaded) << loaded.error().to_string();
    EXPECT_EQ(*loaded, value) << sizeof(T) << "-byte word at " << std::hex << gpa;
    // The same bytes as a plain read sees them, and none around them touched.
    EXPECT_EQ(m.read_obj<T>(gpa).value(), value);
    EXPECT_EQ(host_bytes(m, gpa - 8, 8), before);
    EXPECT_EQ(host_bytes(m, gpa + sizeof(T), 8), after);
  }
}

TEST(GuestMemory, LoadAndStoreRoundTripEveryWidthAndOrder) {
  auto m = two_adjacent_regions_and_a_gap();
  fill_with_pattern(m);
  expect_load_store_round_trip<std::uint8_t>(m, 0x5011);
  expect_load_store_round_trip<std::uint16_t>(m, 0x5022);
  expect_load_store_round_trip<std::uint32_t>(m, 0x5044);
  expect_load_store_round_trip<std::uint64_t>(m, 0x5088);
  expect_load_store_round_trip<std::int32_t>(m, 0x50c4);
  // The last word of a region and the first of its neighbour: one region each.
  expect_load_store_round_trip<std::uint64_t>(m, 0x1ff8);
  expect_load_store_round_trip<std::uint64_t>(m, 0x2000);
  // The guest's bytes, little-endian, are what load() returns.
  const std::array<std::uint8_t, 8> bytes{1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(m.write(0x5100, bytes));
  EXPECT_EQ(m.load<std::uint64_t>(0x5100, std::memory_order_acquire).value(), 0x0807060504030201ULL);
  EXPECT_EQ(m.load<std::uint16_t>(0x5106, std::memory_order_relaxed).value(), 0x0807U);
}

template <class T>
void expect_misaligned_refused(const hv::GuestMemory& m, std::uint64_t aligned_gpa) {
  for (std::uint64_t skew = 1; skew < sizeof(T); ++skew) {
    const std::uint64_t gpa = aligned_gpa + skew;
    const auto before = host_bytes(m, aligned_gpa, 2 * sizeof(T));
    auto stored = m.store<T>(gpa, static_cast<T>(~T{0}), std::memory_order_seq_cst);
    ASSERT_FALSE(stored) << sizeof(T) << " bytes at " << std::hex << gpa;
    EXPECT_EQ(stored.error().kind(), hv::ErrorKind::InvalidArgument) << stored.error().to_string();
    EXPECT_NE(stored.error().message().find("aligned"), std::string::npos) << stored.error().to_string();
    EXPECT_EQ(host_bytes(m, aligned_gpa, 2 * sizeof(T)), before) << "a refused store wrote";
    auto loaded = m.load<T>(gpa, std::memory_order_seq_cst);
    ASSERT_FALSE(loaded) << sizeof(T) << " bytes at " << std::hex << gpa;
    EXPECT_EQ(loaded.error().kind(), hv::ErrorKind::InvalidArgument) << loaded.error().to_string();
  }
}

TEST(GuestMemory, MisalignedLoadAndStoreAreInvalidArgumentAndChangeNothing) {
  auto m = two_adjacent_regions_and_a_gap();
  fill_with_pattern(m);
  expect_misaligned_refused<std::uint16_t>(m, 0x5100);
  expect_misaligned_refused<std::uint32_t>(m, 0x5200);
  expect_misaligned_refused<std::uint64_t>(m, 0x5300);
  // Misaligned but well inside one region: memcpy-style accesses would allow it, atomic ones do not.
  EXPECT_TRUE(m.write_obj<std::uint64_t>(0x5301, 1));
}

TEST(GuestMemory, StoreIntoAReadOnlyRegionIsPermissionDeniedAndChangesNothing) {
  auto m = memory_with_a_rom();
  for (const std::uint64_t gpa : {0x2000ULL, 0x2008ULL, 0x2ff8ULL}) {
    auto wide = m.store<std::uint64_t>(gpa, 0x1122334455667788ULL, std::memory_order_release);
    ASSERT_FALSE(wide) << std::hex << gpa;
    EXPECT_EQ(wide.error().kind(), hv::ErrorKind::PermissionDenied) << wide.error().to_string();
    auto narrow = m.store<std::uint8_t>(gpa + 7, 1, std::memory_order_relaxed);
    ASSERT_FALSE(narrow) << std::hex << gpa + 7;
    EXPECT_EQ(narrow.error().kind(), hv::ErrorKind::PermissionDenied) << narrow.error().to_string();
    // Loads from it are allowed.
    EXPECT_EQ(m.load<std::uint64_t>(gpa, std::memory_order_acquire).value(), 0x5a5a5a5a5a5a5a5aULL);
  }
  for (auto b : m.regions()[1]->host()) ASSERT_EQ(b, 0x5a);
  // Its read-write neighbours take stores.
  EXPECT_TRUE(m.store<std::uint64_t>(0x1ff8, 1, std::memory_order_release));
  EXPECT_TRUE(m.store<std::uint64_t>(0x5000, 1, std::memory_order_release));
}

TEST(GuestMemory, LoadAndStoreOutsideRamOrAcrossARegionEndAreOutOfRange) {
  auto m = two_adjacent_regions_and_a_gap();
  auto top = hv::GuestRegion::create(kMax - 0xfff, 0x1000);
  ASSERT_TRUE(top);
  ASSERT_TRUE(m.add_region(*top));
  fill_with_pattern(m);
  struct Case {
    std::uint64_t gpa;
    const char* what;
  };
  // An aligned word never crosses a page, so every crossing access is misaligned as well: the range
  // is checked first and decides the error.
  const Case cases[] = {
      {0x3000, "the first word of a gap"},
      {0x4ff8, "the last word of a gap"},
      {0x6000, "just past the last low region"},
      {0x1ffc, "across two adjacent regions"},
      {0x2ffc, "from a region into a gap"},
      {0x4ffc, "from a gap into a region"},
      {kMax - 3, "across the top of the address space"},
      {kMax - 0x1003, "into the region at the top from below"},
  };
  for (const auto& c : cases) {
    const auto before = host_bytes(m, 0, 0x3000);
    const auto before_high = host_bytes(m, 0x5000, 0x1000);
    auto stored = m.store<std::uint64_t>(c.gpa, ~0ULL, std::memory_order_seq_cst);
    ASSERT_FALSE(stored) << c.what;
    EXPECT_EQ(stored.error().kind(), hv::ErrorKind::OutOfRange) << c.what << ": " << stored.error().to_string();
    auto loaded = m.load<std::uint64_t>(c.gpa, std::memory_order_seq_cst);
    ASSERT_FALSE(loaded) << c.what;
    EXPECT_EQ(loaded.error().kind(), hv::ErrorKind::OutOfRange) << c.what << ": " << loaded.error().to_string();
    EXPECT_EQ(host_bytes(m, 0, 0x3000), before) << c.what;
    EXPECT_EQ(host_bytes(m, 0x5000, 0x1000), before_high) << c.what;
  }
  for (std::uint64_t i = 0; i < 0x1000; ++i) ASSERT_EQ((*top)->host()[i], pattern_byte(kMax - 0xfff + i)) << i;
  // The last word of the address space is RAM here.
  ASSERT_TRUE(m.store<std::uint64_t>(kMax - 7, 42, std::memory_order_release));
  EXPECT_EQ(m.load<std::uint64_t>(kMax - 7, std::memory_order_acquire).value(), 42U);
}

// The pages of `region` written since the last call (bit i: page i).
std::uint64_t written_pages(const hv::GuestRegion& region) {
  std::array<std::uint64_t, 1> bits{};
  region.take_written(bits);
  return bits[0];
}

TEST(GuestMemory, EveryKindOfWriteMarksItsPagesWhileTrackingIsOn) {
  const hv::RegionSpec specs[] = {{0x10000, 0x10000}};  // 16 pages
  auto created = hv::GuestMemory::create(specs);
  ASSERT_TRUE(created);
  const auto& m = *created;
  hv::GuestRegion& region = *m.regions()[0];
  const std::array<std::uint8_t, 8> bytes{1, 2, 3, 4, 5, 6, 7, 8};
  // Off: nothing is recorded, even once tracking starts later.
  ASSERT_TRUE(m.store<std::uint32_t>(0x11000, 1, std::memory_order_relaxed));
  ASSERT_TRUE(region.start_write_tracking());
  EXPECT_EQ(written_pages(region), 0U);

  ASSERT_TRUE(m.store<std::uint32_t>(0x11ffc, 1, std::memory_order_release));
  EXPECT_EQ(written_pages(region), 1U << 1) << "store";
  ASSERT_TRUE(m.write_obj<std::uint64_t>(0x12008, 1));
  EXPECT_EQ(written_pages(region), 1U << 2) << "write_obj";
  ASSERT_TRUE(m.write(0x13ffc, bytes));  // four bytes in page 3, four in page 4
  EXPECT_EQ(written_pages(region), (1U << 3) | (1U << 4)) << "write";
  auto window = m.writable_window(0x15ff0, 0x20);  // pages 5 and 6
  ASSERT_TRUE(window);
  EXPECT_EQ(written_pages(region), 0U) << "a window marks what it writes, not what it covers";
  window.write_obj<std::uint64_t>(0, 1);
  EXPECT_EQ(written_pages(region), 1U << 5) << "GuestWindow::write_obj";
  window.store<std::uint32_t>(0x10, 1, std::memory_order_release);
  EXPECT_EQ(written_pages(region), 1U << 6) << "GuestWindow::store";
  ASSERT_TRUE(m.slice(0x17000, 0x1001));
  EXPECT_EQ(written_pages(region), (1U << 7) | (1U << 8)) << "a writable slice";

  // Reads mark nothing; neither do refused writes.
  std::array<std::uint8_t, 8> out{};
  ASSERT_TRUE(m.read(0x19000, out));
  ASSERT_TRUE(m.read_obj<std::uint64_t>(0x19000));
  ASSERT_TRUE(m.load<std::uint64_t>(0x19000, std::memory_order_acquire));
  ASSERT_TRUE(m.view(0x19000, 0x1000));
  EXPECT_FALSE(m.store<std::uint32_t>(0x1a001, 1, std::memory_order_release));  // misaligned
  EXPECT_FALSE(m.write_obj<std::uint64_t>(0x1fffc, 1));                         // past the end
  EXPECT_EQ(written_pages(region), 0U);

  region.stop_write_tracking();
  ASSERT_TRUE(m.store<std::uint32_t>(0x1b000, 1, std::memory_order_release));
  ASSERT_TRUE(region.start_write_tracking());
  EXPECT_EQ(written_pages(region), 0U) << "a store while tracking was off";
}

TEST(GuestMemory, ContainsAndWritableAgreeWithViewAndSlice) {
  auto m = memory_with_a_rom();  // rw [0, 0x2000), ro [0x2000, 0x3000), gap, rw [0x5000, 0x6000)
  auto top = hv::GuestRegion::create(kMax - 0xfff, 0x1000);
  ASSERT_TRUE(top);
  ASSERT_TRUE(m.add_region(*top, hv::Permission::ReadOnly));
  // 0 is also where the top region ends (its end wraps).
  const std::uint64_t edges[] = {0x0, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, kMax - 0xfff};
  const std::uint64_t lengths[] = {0, 1, 2, 7, 8, 15, 16, 17, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, kMax};
  int accepted = 0, writable = 0;
  for (const std::uint64_t edge : edges) {
    for (std::uint64_t d = 0; d <= 32; ++d) {
      const std::uint64_t gpa = edge + d - 16;  // edge - 16 .. edge + 16, wrapping around 0
      for (const std::uint64_t len : lengths) {
        const bool viewable = m.view(gpa, len).has_value();
        const bool sliceable = m.slice(gpa, len).has_value();
        EXPECT_EQ(m.contains(gpa, len), viewable) << std::hex << gpa << "+" << len;
        EXPECT_EQ(m.writable(gpa, len), sliceable) << std::hex << gpa << "+" << len;
        accepted += viewable ? 1 : 0;
        writable += sliceable ? 1 : 0;
      }
    }
  }
  // The grid holds both answers, and read-only memory that is viewable but not writable.
  EXPECT_GT(writable, 0);
  EXPECT_GT(accepted, writable);
  EXPECT_FALSE(m.contains(0x1000, 0));
  EXPECT_FALSE(m.writable(0x1000, 0));
  EXPECT_TRUE(m.contains(0x2000, 0x1000));
  EXPECT_FALSE(m.writable(0x2000, 0x1000));
  EXPECT_TRUE(m.writable(0x0, 0x2000));
  EXPECT_FALSE(m.contains(0x1000, 0x2000)) << "two adjacent regions are not one";
  EXPECT_TRUE(m.contains(kMax, 1));
  EXPECT_FALSE(m.contains(kMax, 2));
}

// Twelve regions (more than the linear search takes), with gaps, adjacent pairs, read-only ones
// and one at the top of the address space.
struct Layout {
  std::uint64_t base, size;
  hv::Permission permission;
};
constexpr std::array<Layout, 12> kTwelveRegions = {{
    {0x1000, 0x1000, hv::Permission::ReadWrite},
    {0x2000, 0x2000, hv::Permission::ReadWrite},  // adjacent to the one before
    {0x5000, 0x1000, hv::Permission::ReadWrite},
    {0x6000, 0x1000, hv::Permission::ReadOnly},  // adjacent, read-only
    {0x9000, 0x3000, hv::Permission::ReadWrite},
    {0x10000, 0x1000, hv::Permission::ReadWrite},
    {0x11000, 0x1000, hv::Permission::ReadWrite},  // adjacent, and in the other half below
    {0x20000, 0x2000, hv::Permission::ReadOnly},
    {0x30000, 0x1000, hv::Permission::ReadWrite},
    {0x31000, 0x1000, hv::Permission::ReadWrite},
    {0x40000, 0x4000, hv::Permission::ReadWrite},
    {kMax - 0xfff, 0x1000, hv::Permission::ReadWrite},
}};

// What every accessor answers, for comparing two layouts.
struct Answers {
  bool contains, writable, view, slice, read, read_obj, load;
  std::vector<std::uint8_t> bytes;  // what read() returned
  std::uint64_t word = 0;           // what read_obj<u64>() returned
  bool operator==(const Answers&) const = default;
};

Answers ask(const hv::GuestMemory& m, std::uint64_t gpa, std::uint64_t len) {
  Answers a{};
  a.contains = m.contains(gpa, len);
  a.writable = m.writable(gpa, len);
  a.view = m.view(gpa, len).has_value();
  a.slice = m.slice(gpa, len).has_value();
  std::vector<std::uint8_t> out(len, 0xee);
  a.read = m.read(gpa, out).has_value();
  if (a.read) a.bytes = std::move(out);
  auto word = m.read_obj<std::uint64_t>(gpa);
  a.read_obj = word.has_value();
  a.word = word.value_or(0);
  a.load = gpa % 8 == 0 && m.load<std::uint64_t>(gpa, std::memory_order_acquire).has_value();
  return a;
}

// Whether [gpa, gpa + len) lies inside one of `regions`, by closed intervals (not the library's
// offset arithmetic), and whether that region is writable.
std::pair<bool, bool> expected_inside(std::span<const Layout> regions, std::uint64_t gpa, std::uint64_t len) {
  if (len == 0 || gpa + (len - 1) < gpa) return {false, false};
  const std::uint64_t last = gpa + (len - 1);
  for (const auto& r : regions) {
    if (gpa >= r.base && last <= r.base + (r.size - 1)) return {true, r.permission == hv::Permission::ReadWrite};
  }
  return {false, false};
}

TEST(GuestMemory, TheBinarySearchOverManyRegionsAgreesWithTheLinearSearchOverFew) {
  // The same region objects in one memory of twelve (binary search) and two of six (linear search).
  hv::GuestMemory many, low, high;
  for (std::size_t i = 0; i < kTwelveRegions.size(); ++i) {
    const auto& r = kTwelveRegions[i];
    auto region = hv::GuestRegion::create(r.base, r.size);
    ASSERT_TRUE(region) << region.error().to_string();
    ASSERT_TRUE(many.add_region(*region, r.permission));
    ASSERT_TRUE((i < 6 ? low : high).add_region(*region, r.permission));
  }
  fill_with_pattern(many);
  const std::uint64_t lengths[] = {1, 2, 3, 4, 8, 9, 16, 17, 0x1000, 0x2000};
  int inside = 0;
  for (const auto& r : kTwelveRegions) {
    for (const std::uint64_t edge : {r.base, r.base + r.size}) {
      for (std::uint64_t d = 0; d <= 32; ++d) {
        const std::uint64_t gpa = edge + d - 16;
        for (const std::uint64_t len : lengths) {
          const Answers got = ask(many, gpa, len);
          const Answers a = ask(low, gpa, len);
          const Answers b = ask(high, gpa, len);
          const Answers& reference = low.find_region(gpa) != nullptr ? a : b;  // the half that holds gpa
          EXPECT_EQ(got, reference) << std::hex << gpa << "+" << len;
          // And against the layout itself.
          const auto [in, rw] = expected_inside(kTwelveRegions, gpa, len);
          EXPECT_EQ(got.contains, in) << std::hex << gpa << "+" << len;
          EXPECT_EQ(got.view, in) << std::hex << gpa << "+" << len;
          EXPECT_EQ(got.read, in) << std::hex << gpa << "+" << len;
          EXPECT_EQ(got.writable, rw) << std::hex << gpa << "+" << len;
          EXPECT_EQ(got.slice, rw) << std::hex << gpa << "+" << len;
          EXPECT_EQ(got.read_obj, expected_inside(kTwelveRegions, gpa, 8).first) << std::hex << gpa;
          EXPECT_EQ(got.load, got.read_obj && gpa % 8 == 0) << std::hex << gpa;
          if (got.read) {
            ++inside;
            for (std::uint64_t i = 0; i < len; ++i) ASSERT_EQ(got.bytes[i], pattern_byte(gpa + i)) << std::hex << gpa;
          }
          if (got.read_obj) {
            std::uint64_t expected = 0;
            for (std::uint64_t i = 0; i < 8; ++i) expected |= std::uint64_t{pattern_byte(gpa + i)} << (8 * i);
            EXPECT_EQ(got.word, expected) << std::hex << gpa;
          }
        }
      }
    }
  }
  EXPECT_GT(inside, 1000) << "the grid should mostly hit RAM";
  // Layout changes rebuild the table: a removed region is gone from every accessor.
  ASSERT_TRUE(many.remove_region(0x9000));
  EXPECT_FALSE(many.contains(0x9000, 1));
  EXPECT_FALSE(many.read_obj<std::uint8_t>(0xbfff));
  EXPECT_TRUE(many.contains(0x10000, 1));
  EXPECT_TRUE(many.contains(0x5000, 1));
}

TEST(GuestMemory, AWritableWindowCoversOneWritableRegionOnly) {
  auto m = memory_with_a_rom();  // rw [0, 0x2000), ro [0x2000, 0x3000), gap, rw [0x5000, 0x6000)
  struct Case {
    std::uint64_t gpa, len;
    hv::ErrorKind kind;
    const char* what;
  };
  const Case refused[] = {
      {0x2000, 0x10, hv::ErrorKind::PermissionDenied, "read-only"},
      {0x1ff0, 0x20, hv::ErrorKind::OutOfRange, "from read-write into read-only"},
      {0x3000, 0x10, hv::ErrorKind::OutOfRange, "a gap"},
      {0x5ff0, 0x11, hv::ErrorKind::OutOfRange, "past the end of RAM"},
      {0x5000, 0, hv::ErrorKind::InvalidArgument, "zero length"},
      {kMax - 0xf, 0x20, hv::ErrorKind::OutOfRange, "wrapping"},
  };
  for (const auto& c : refused) {
    const auto window = m.writable_window(c.gpa, c.len);
    EXPECT_FALSE(window) << c.what;
    EXPECT_EQ(window.size(), 0U) << c.what;
    EXPECT_EQ(m.window_error(c.gpa, c.len).kind(), c.kind)
        << c.what << ": " << m.window_error(c.gpa, c.len).to_string();
  }
  EXPECT_FALSE(hv::GuestWindow{}) << "a default window is empty";
  EXPECT_TRUE(m.writable_window(0x0, 0x2000)) << "a whole region";
  EXPECT_TRUE(m.writable_window(0x1fff, 1)) << "its last byte";
}

TEST(GuestMemory, AWritableWindowWritesAtItsOffsets) {
  auto m = two_adjacent_regions_and_a_gap();
  fill_with_pattern(m);
  const auto before = host_bytes(m, 0x5000, 0x100);
  const auto window = m.writable_window(0x5010, 0x40);
  ASSERT_TRUE(window);
  EXPECT_EQ(window.size(), 0x40U);
  window.write_obj<std::uint32_t>(0, 0xa1a2a3a4U);
  window.store<std::uint16_t>(0x20, 0xb1b2, std::memory_order_release);
  window.store<std::uint64_t>(0x30, 0xc1c2c3c4c5c6c7c8ULL, std::memory_order_relaxed);
  window.write_obj(0x3d, std::array<std::uint8_t, 3>{0xd1, 0xd2, 0xd3});  // ends at the window's end
  auto expected = before;
  const auto put = [&](std::uint64_t gpa, std::uint64_t value, std::size_t len) {
    for (std::size_t i = 0; i < len; ++i) expected[gpa - 0x5000 + i] = static_cast<std::uint8_t>(value >> (8 * i));
  };
  put(0x5010, 0xa1a2a3a4U, 4);
  put(0x5030, 0xb1b2, 2);
  put(0x5040, 0xc1c2c3c4c5c6c7c8ULL, 8);
  put(0x504d, 0xd3d2d1, 3);
  EXPECT_EQ(host_bytes(m, 0x5000, 0x100), expected);
  EXPECT_EQ(m.load<std::uint16_t>(0x5030, std::memory_order_acquire).value(), 0xb1b2);
}

TEST(GuestMemory, AnOffsetOutsideAWritableWindowIsAContractViolation) {
  auto m = two_adjacent_regions_and_a_gap();
  const auto window = m.writable_window(0x5010, 0x40);
  ASSERT_TRUE(window);
  // Offsets come from hvkit's own validated state: a wrong one is a bug, and it stops the process
  // rather than write outside the window.
  EXPECT_DEATH(window.write_obj<std::uint32_t>(0x3d, 1), "");
  EXPECT_DEATH(window.write_obj<std::uint8_t>(0x40, 1), "");
  EXPECT_DEATH(window.store<std::uint64_t>(0x38 + 8, 1, std::memory_order_relaxed), "");
  EXPECT_DEATH(window.write_obj<std::uint64_t>(~0ULL - 3, 1), "") << "an offset that wraps";
  EXPECT_DEATH(window.store<std::uint32_t>(0x2, 1, std::memory_order_relaxed), "") << "misaligned";
  EXPECT_DEATH(hv::GuestWindow{}.write_obj<std::uint8_t>(0, 1), "") << "an empty window";
  window.write_obj<std::uint8_t>(0x3f, 1);  // the last byte is inside
  EXPECT_EQ(m.read_obj<std::uint8_t>(0x504f).value(), 1);
}

}  // namespace
