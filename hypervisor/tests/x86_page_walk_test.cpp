// hv::x86::walk_page_tables over page tables built in a flat guest-physical array: every paging
// mode, large pages, and each access check.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hv/x86_page_walk.hpp"

namespace {

using hv::x86::PageWalkResult;
using hv::x86::PagingRegisters;

constexpr std::uint64_t kP = 1, kRw = 2, kUs = 4, kPs = 0x80, kNx = 1ULL << 63;
constexpr std::uint64_t kPg = 1ULL << 31, kWp = 1ULL << 16, kPse = 1ULL << 4, kPae = 1ULL << 5, kLa57 = 1ULL << 12,
                        kSmap = 1ULL << 21, kLma = (1ULL << 10) | (1ULL << 8), kNxe = 1ULL << 11, kAc = 1ULL << 18;

class Physical {
 public:
  Physical() : bytes_(8 << 20) {}
  void put64(std::uint64_t gpa, std::uint64_t v) { std::memcpy(bytes_.data() + gpa, &v, 8); }
  void put32(std::uint64_t gpa, std::uint32_t v) { std::memcpy(bytes_.data() + gpa, &v, 4); }
  [[nodiscard]] hv::x86::PhysicalRead reader() const {
    return [this](std::uint64_t gpa, std::span<std::uint8_t> out) {
      if (gpa > bytes_.size() || out.size() > bytes_.size() - gpa) return false;
      std::memcpy(out.data(), bytes_.data() + gpa, out.size());
      return true;
    };
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

hv::x86::PageWalk walk(const Physical& m, const PagingRegisters& r, std::uint64_t linear, bool write = false) {
  return hv::x86::walk_page_tables(r, linear, write, m.reader());
}

TEST(X86PageWalk, PagingOffIsIdentityAndOutsideLongModeTruncatedTo32Bits) {
  Physical m;
  auto w = walk(m, {}, 0x1'2345'6789ULL);
  EXPECT_EQ(w.result, PageWalkResult::Success);
  EXPECT_EQ(w.gpa, 0x2345'6789ULL);
}

// 32-bit paging: a 4 KiB page, a 4 MiB page (with PSE, PSE-36 high bits), PS ignored without PSE.
TEST(X86PageWalk, ThirtyTwoBitPaging) {
  Physical m;
  m.put32(0x10000 + 0x300 * 4, 0x11000 | kP | kRw);                   // PDE for 0xc0000000
  m.put32(0x11000 + 0x005 * 4, 0x7000 | kP | kRw);                    // PTE for 0xc0005000
  m.put32(0x10000 + 0x301 * 4, 0x00c00000 | (0x3 << 13) | kP | kPs);  // 4 MiB at 0x3'00c00000
  PagingRegisters r{.cr0 = kPg, .cr3 = 0x10000};
  auto small = walk(m, r, 0xc0005123);
  EXPECT_EQ(small.result, PageWalkResult::Success);
  EXPECT_EQ(small.gpa, 0x7123U);
  r.cr4 = kPse;
  auto large = walk(m, r, 0xc0412345);
  EXPECT_EQ(large.result, PageWalkResult::Success);
  EXPECT_EQ(large.gpa, 0x3'00c1'2345ULL);
  EXPECT_EQ(walk(m, r, 0xc0812345).result, PageWalkResult::PageNotPresent);
}

// PAE: the 4-entry PDPT (its reserved bits checked), a 2 MiB page and a 4 KiB page.
TEST(X86PageWalk, PaePaging) {
  Physical m;
  m.put64(0x10000 + 3 * 8, 0x11000 | kP);               // PDPTE 3: 0xc0000000..
  m.put64(0x11000 + 0 * 8, 0x12000 | kP | kRw);         // PDE 0: table
  m.put64(0x11000 + 1 * 8, 0x600000 | kP | kRw | kPs);  // PDE 1: 2 MiB
  m.put64(0x12000 + 5 * 8, 0x9000 | kP | kRw);
  PagingRegisters r{.cr0 = kPg, .cr3 = 0x10000, .cr4 = kPae};
  EXPECT_EQ(walk(m, r, 0xc0005010).gpa, 0x9010U);
  EXPECT_EQ(walk(m, r, 0xc0212345).gpa, 0x612345U);
  m.put64(0x10000 + 3 * 8, 0x11000 | kP | kRw);  // R/W is reserved in a PAE PDPTE
  EXPECT_EQ(walk(m, r, 0xc0005010).result, PageWalkResult::InvalidPageTableFlags);
}

// Long mode, 4 and 5 levels, 1 GiB / 2 MiB / 4 KiB pages, canonical addresses.
TEST(X86PageWalk, FourAndFiveLevelPaging) {
  Physical m;
  m.put64(0x10000, 0x11000 | kP | kRw);                   // PML4[0]
  m.put64(0x11000 + 1 * 8, 0x40000000 | kP | kRw | kPs);  // PDPT[1]: 1 GiB at 1 GiB
  m.put64(0x11000, 0x12000 | kP | kRw);                   // PDPT[0]
  m.put64(0x12000 + 2 * 8, 0x200000 | kP | kRw | kPs);    // PD[2]: 2 MiB
  m.put64(0x12000, 0x13000 | kP | kRw);                   // PD[0]
  m.put64(0x13000 + 7 * 8, 0x5000 | kP | kRw);            // PT[7]
  PagingRegisters r{.cr0 = kPg, .cr3 = 0x10000, .cr4 = kPae, .efer = kLma};
  EXPECT_EQ(walk(m, r, 0x7abc).gpa, 0x5abcU);
  EXPECT_EQ(walk(m, r, 0x412345).gpa, 0x212345U);
  EXPECT_EQ(walk(m, r, 0x4123'4567).gpa, 0x4123'4567U);
  EXPECT_EQ(walk(m, r, 0x8000'0000'0000ULL).result, PageWalkResult::InvalidPageTableFlags);  // not canonical
  EXPECT_EQ(walk(m, r, 0xffff'8000'0000'0000ULL).result, PageWalkResult::PageNotPresent);
  // LA57: one more level on top.
  m.put64(0x20000, 0x10000 | kP | kRw);
  r.cr3 = 0x20000;
  r.cr4 |= kLa57;
  EXPECT_EQ(walk(m, r, 0x7abc).gpa, 0x5abcU);
  EXPECT_EQ(walk(m, r, 0x8000'0000'0000ULL).result, PageWalkResult::PageNotPresent);  // canonical with 57 bits
  // PS in a PML4E is reserved.
  m.put64(0x10000, 0x11000 | kP | kRw | kPs);
  EXPECT_EQ(walk(m, r, 0x7abc).result, PageWalkResult::InvalidPageTableFlags);
}

TEST(X86PageWalk, AccessChecks) {
  Physical m;
  m.put64(0x10000, 0x11000 | kP | kRw | kUs);
  m.put64(0x11000, 0x12000 | kP | kRw | kUs);
  m.put64(0x12000, 0x13000 | kP | kRw | kUs);
  m.put64(0x13000 + 1 * 8, 0x1000 | kP);              // supervisor, read-only
  m.put64(0x13000 + 2 * 8, 0x2000 | kP | kRw | kUs);  // user, writable
  m.put64(0x13000 + 3 * 8, 0x3000 | kP | kRw | kNx);  // NX
  m.put64(0x13000 + 4 * 8, 0x700000);                 // a PT that is not in RAM below
  PagingRegisters r{.cr0 = kPg, .cr3 = 0x10000, .cr4 = kPae, .efer = kLma};
  // Read-only: a supervisor write passes without CR0.WP, not with it; a user write never does.
  EXPECT_EQ(walk(m, r, 0x1000, true).result, PageWalkResult::Success);
  r.cr0 |= kWp;
  EXPECT_EQ(walk(m, r, 0x1000, true).result, PageWalkResult::PrivilegeViolation);
  EXPECT_EQ(walk(m, r, 0x1000, false).result, PageWalkResult::Success);
  r.cpl = 3;
  EXPECT_EQ(walk(m, r, 0x1000, false).result, PageWalkResult::PrivilegeViolation) << "user read of a supervisor page";
  EXPECT_EQ(walk(m, r, 0x2000, true).result, PageWalkResult::Success);
  // SMAP: a supervisor access to a user page, unless RFLAGS.AC.
  r.cpl = 0;
  r.cr4 |= kSmap;
  EXPECT_EQ(walk(m, r, 0x2000).result, PageWalkResult::PrivilegeViolation);
  r.rflags = kAc;
  EXPECT_EQ(walk(m, r, 0x2000).result, PageWalkResult::Success);
  // NX is a reserved bit without EFER.NXE.
  EXPECT_EQ(walk(m, r, 0x3000).result, PageWalkResult::InvalidPageTableFlags);
  r.efer |= kNxe;
  EXPECT_EQ(walk(m, r, 0x3000).result, PageWalkResult::Success);
  // A paging structure outside RAM.
  m.put64(0x13000 + 4 * 8, 0x4000 | kP);
  m.put64(0x12000 + 1 * 8, 0x7000'0000ULL | kP | kRw | kUs);
  EXPECT_EQ(walk(m, r, 0x200000).result, PageWalkResult::TableNotReadable);
}

}  // namespace
