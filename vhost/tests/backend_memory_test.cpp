// BackendMemoryTable: the frontend's memory table mapped from the descriptors it sends. A table maps
// each region at its file offset and translates the frontend's user addresses; each change publishes a
// new GuestMemory and leaves the old one valid for whoever holds it; every malformed table (too many
// regions, a wrong descriptor count, sizes, alignment, wrap-around, overlaps in either address space,
// a file too short) is refused and leaves the table as it was.
#include <gtest/gtest.h>

#include <limits>

#include "backend_test_support.hpp"
#include "hv/vhost/backend_memory.hpp"

namespace {

using hv::ErrorKind;
using hv::vhost::BackendMemoryTable;
using hv::vhost::MemoryRegion;
using hv::vhost::Message;
using hv::vhost::Request;
using hvtest::make_memfd;
using hvtest::mem_table;
using hvtest::single_region;

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t kUser = 0x7f0000000000;  // where the frontend has its guest RAM mapped

class MemoryTableTest : public ::testing::Test {
 protected:
  // A frontend's RAM: 64 KiB in one memfd, two regions of it: GPA 0 (file 0..32K) and GPA 1 MiB
  // (file 32K..64K), at consecutive user addresses.
  hv::UniqueFd ram_ = make_memfd(16 * kPage);
  MemoryRegion low_{0, 8 * kPage, kUser, 0};
  MemoryRegion high_{0x100000, 8 * kPage, kUser + 8 * kPage, 8 * kPage};
  BackendMemoryTable table_;

  void expect_refused(Message m, ErrorKind kind) {
    const auto before = table_.memory();
    const auto count = table_.region_count();
    auto r = m.request() == static_cast<std::uint32_t>(Request::SetMemTable) ? table_.set_table(m)
             : m.request() == static_cast<std::uint32_t>(Request::AddMemReg) ? table_.add_region(m)
                                                                             : table_.remove_region(m);
    ASSERT_FALSE(r) << "accepted";
    EXPECT_EQ(r.error().kind(), kind) << r.error().to_string();
    EXPECT_EQ(table_.memory(), before) << "a refused change replaced the table";
    EXPECT_EQ(table_.region_count(), count);
  }
};

TEST_F(MemoryTableTest, MapsEachRegionAtItsOffsetAndTranslatesUserAddresses) {
  auto m = mem_table({low_, high_}, {ram_.get(), ram_.get()});
  ASSERT_TRUE(table_.set_table(m)) << "refused";
  const auto memory = table_.memory();
  ASSERT_EQ(memory->regions().size(), 2U);
  // The frontend writes its RAM; the backend reads it by guest-physical address.
  const std::uint32_t value = 0x12345678;
  ASSERT_EQ(::pwrite(ram_.get(), &value, 4, static_cast<off_t>(8 * kPage + 0x10)), 4);
  EXPECT_EQ(memory->read_obj<std::uint32_t>(0x100010).value(), value);
  // And the other way round.
  ASSERT_TRUE(memory->write_obj<std::uint32_t>(0x20, 0xcafe));
  std::uint32_t seen = 0;
  ASSERT_EQ(::pread(ram_.get(), &seen, 4, 0x20), 4);
  EXPECT_EQ(seen, 0xcafeU);

  EXPECT_EQ(table_.translate(kUser + 0x40, 16).value(), 0x40U);
  EXPECT_EQ(table_.translate(kUser + 8 * kPage + 0x100, 16).value(), 0x100100U);
  // Outside every region, straddling two, or empty: refused.
  EXPECT_FALSE(table_.translate(kUser - 1, 1));
  EXPECT_FALSE(table_.translate(kUser + 8 * kPage - 8, 16));
  EXPECT_FALSE(table_.translate(kUser + 16 * kPage, 1));
  EXPECT_FALSE(table_.translate(kUser, 0));
}

TEST_F(MemoryTableTest, EachChangePublishesANewLayoutAndTheOldOneStaysValid) {
  auto first = mem_table({low_}, {ram_.get()});
  ASSERT_TRUE(table_.set_table(first));
  const auto old = table_.memory();
  ASSERT_TRUE(old->write_obj<std::uint8_t>(0x10, 0x77));
  auto second = mem_table({high_}, {ram_.get()});
  ASSERT_TRUE(table_.set_table(second));
  EXPECT_NE(table_.memory(), old);
  EXPECT_FALSE(table_.memory()->contains(0x10, 1));
  // A device still holding the old layout reads it safely: its mapping is alive.
  EXPECT_EQ(old->read_obj<std::uint8_t>(0x10).value(), 0x77);
}

TEST_F(MemoryTableTest, AddAndRemoveRegions) {
  auto table = mem_table({low_}, {ram_.get()});
  ASSERT_TRUE(table_.set_table(table));
  auto add = single_region(Request::AddMemReg, high_, ram_.get());
  ASSERT_TRUE(table_.add_region(add));
  EXPECT_EQ(table_.region_count(), 2U);
  EXPECT_TRUE(table_.memory()->contains(0x100000, 8 * kPage));
  // QEMU removes without a descriptor.
  auto remove = single_region(Request::RemMemReg, low_, -1);
  ASSERT_TRUE(table_.remove_region(remove));
  EXPECT_EQ(table_.region_count(), 1U);
  EXPECT_FALSE(table_.memory()->contains(0, 1));
  EXPECT_FALSE(table_.translate(kUser, 1));
  // Removing it again: nothing there.
  expect_refused(single_region(Request::RemMemReg, low_, -1), ErrorKind::NotFound);
  // A region that only resembles one in the table (another size) is not removed.
  MemoryRegion smaller = high_;
  smaller.size = kPage;
  expect_refused(single_region(Request::RemMemReg, smaller, -1), ErrorKind::NotFound);
}

TEST_F(MemoryTableTest, RefusesMalformedTables) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const int fd = ram_.get();
  // Nine regions: more than SET_MEM_TABLE carries.
  std::vector<MemoryRegion> nine;
  for (std::uint64_t i = 0; i < 9; ++i) {
    nine.push_back({i * kPage, kPage, kUser + i * kPage, i * kPage});
  }
  Message too_many = mem_table(nine, {});
  expect_refused(std::move(too_many), ErrorKind::ProtocolViolation);
  // Descriptor count differs from the region count, either way.
  expect_refused(mem_table({low_, high_}, {fd}), ErrorKind::ProtocolViolation);
  expect_refused(mem_table({low_}, {fd, fd}), ErrorKind::ProtocolViolation);
  // A payload that is not 8 + 32 * count bytes.
  Message short_payload = mem_table({low_, high_}, {fd, fd});
  short_payload.payload.resize(short_payload.payload.size() - 1);
  short_payload.header.size -= 1;
  expect_refused(std::move(short_payload), ErrorKind::ProtocolViolation);
  Message no_header = hv::vhost::make_message(Request::SetMemTable);
  expect_refused(std::move(no_header), ErrorKind::ProtocolViolation);

  const std::vector<std::pair<MemoryRegion, ErrorKind>> bad = {
      {{0, 0, kUser, 0}, ErrorKind::InvalidArgument},                      // empty
      {{0x800, kPage, kUser, 0}, ErrorKind::InvalidArgument},              // guest address misaligned
      {{0, kPage, kUser + 8, 0}, ErrorKind::InvalidArgument},              // user address misaligned
      {{0, kPage, kUser, 0x10}, ErrorKind::InvalidArgument},               // file offset misaligned
      {{0, kPage + 1, kUser, 0}, ErrorKind::InvalidArgument},              // size misaligned
      {{kMax - kPage + 1, 2 * kPage, kUser, 0}, ErrorKind::OutOfRange},    // guest address wraps
      {{0, 2 * kPage, kMax - kPage + 1, 0}, ErrorKind::OutOfRange},        // user address wraps
      {{0, 2 * kPage, kUser, kMax - kPage + 1}, ErrorKind::OutOfRange},    // file offset wraps
      {{0, hv::kMaxRegionSize + kPage, kUser, 0}, ErrorKind::OutOfRange},  // absurd size
      {{0, 8 * kPage, kUser, 12 * kPage}, ErrorKind::OutOfRange},          // past the end of the file
  };
  for (const auto& [region, kind] : bad) {
    SCOPED_TRACE(testing::Message() << std::hex << region.guest_address << "+" << region.size << " u"
                                    << region.user_address << " o" << region.mmap_offset);
    expect_refused(mem_table({region}, {fd}), kind);
  }
}

TEST_F(MemoryTableTest, RefusesOverlapsInEitherAddressSpace) {
  const int fd = ram_.get();
  MemoryRegion same_gpa = high_;
  same_gpa.guest_address = low_.guest_address + kPage;  // overlaps low_ in guest-physical space
  expect_refused(mem_table({low_, same_gpa}, {fd, fd}), ErrorKind::Overlap);
  MemoryRegion same_uva = high_;
  same_uva.user_address = low_.user_address + 7 * kPage;  // overlaps low_ in the frontend's space
  expect_refused(mem_table({low_, same_uva}, {fd, fd}), ErrorKind::Overlap);
  // The same through ADD_MEM_REG against the table.
  auto table = mem_table({low_}, {fd});
  ASSERT_TRUE(table_.set_table(table));
  expect_refused(single_region(Request::AddMemReg, same_gpa, fd), ErrorKind::Overlap);
  expect_refused(single_region(Request::AddMemReg, same_uva, fd), ErrorKind::Overlap);
  expect_refused(single_region(Request::AddMemReg, low_, fd), ErrorKind::Overlap);  // a duplicate
}

TEST_F(MemoryTableTest, AddRegionWantsOneDescriptorAndRespectsTheSlotLimit) {
  expect_refused(single_region(Request::AddMemReg, low_, -1), ErrorKind::ProtocolViolation);
  Message two = single_region(Request::AddMemReg, low_, ram_.get());
  two.fds.push_back(hvtest::dup_fd(ram_.get()));
  expect_refused(std::move(two), ErrorKind::ProtocolViolation);
  Message wrong_size = single_region(Request::AddMemReg, low_, ram_.get());
  wrong_size.payload.pop_back();
  wrong_size.header.size -= 1;
  expect_refused(std::move(wrong_size), ErrorKind::ProtocolViolation);

  const hv::UniqueFd big = make_memfd((hv::vhost::kBackendMemSlots + 1) * kPage);
  for (std::uint64_t i = 0; i < hv::vhost::kBackendMemSlots; ++i) {
    auto add = single_region(Request::AddMemReg, {i * 2 * kPage, kPage, kUser + i * 2 * kPage, i * kPage}, big.get());
    ASSERT_TRUE(table_.add_region(add)) << "slot " << i;
  }
  const std::uint64_t n = hv::vhost::kBackendMemSlots;
  expect_refused(single_region(Request::AddMemReg, {n * 2 * kPage, kPage, kUser + n * 2 * kPage, n * kPage}, big.get()),
                 ErrorKind::ResourceExhausted);
}

TEST_F(MemoryTableTest, AnEmptyTableAndClear) {
  auto empty = mem_table({}, {});
  ASSERT_TRUE(table_.set_table(empty));
  EXPECT_EQ(table_.region_count(), 0U);
  auto table = mem_table({low_, high_}, {ram_.get(), ram_.get()});
  ASSERT_TRUE(table_.set_table(table));
  table_.clear();
  EXPECT_EQ(table_.region_count(), 0U);
  EXPECT_TRUE(table_.memory()->regions().empty());
}

}  // namespace
