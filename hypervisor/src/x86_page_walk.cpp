#include "hv/x86_page_walk.hpp"

#include <array>
#include <cstring>

namespace hv::x86 {

namespace {

constexpr std::uint64_t kPresent = 1, kWritable = 2, kUser = 4, kLargePage = 0x80, kNoExecute = 1ULL << 63;
constexpr std::uint64_t kCr0Wp = 1ULL << 16, kCr0Pg = 1ULL << 31;
constexpr std::uint64_t kCr4Pse = 1ULL << 4, kCr4Pae = 1ULL << 5, kCr4La57 = 1ULL << 12, kCr4Smap = 1ULL << 21;
constexpr std::uint64_t kEferLma = 1ULL << 10, kEferNxe = 1ULL << 11;
constexpr std::uint64_t kRflagsAc = 1ULL << 18;
constexpr std::uint64_t kAddressMask = 0x000ffffffffff000ULL;  // bits 51:12 of a PAE / long-mode entry
// PAE PDPTEs: bits 2:1 and 8:5 are reserved (no R/W, U/S, A, D, PS).
constexpr std::uint64_t kPdpteReserved = 0x1e6;

bool read_entry(const PhysicalRead& read, std::uint64_t gpa, std::size_t size, std::uint64_t& entry) {
  std::array<std::uint8_t, 8> bytes{};
  if (!read(gpa, std::span(bytes).first(size))) return false;
  entry = 0;
  std::memcpy(&entry, bytes.data(), size);
  return true;
}

// The permission bits of every level, ANDed (a page is writable / user only if every level says so).
struct Permissions {
  bool writable = true;
  bool user = true;
  void add(std::uint64_t entry) {
    writable = writable && (entry & kWritable) != 0;
    user = user && (entry & kUser) != 0;
  }
};

PageWalk finish(const PagingRegisters& regs, const Permissions& p, bool write, std::uint64_t gpa) {
  const bool user_mode = regs.cpl == 3;
  if (user_mode && !p.user) return {PageWalkResult::PrivilegeViolation, 0};
  if (write && !p.writable && (user_mode || (regs.cr0 & kCr0Wp) != 0)) return {PageWalkResult::PrivilegeViolation, 0};
  // SMAP: a supervisor data access to a user page, unless RFLAGS.AC allows it.
  if (!user_mode && p.user && (regs.cr4 & kCr4Smap) != 0 && (regs.rflags & kRflagsAc) == 0)
    return {PageWalkResult::PrivilegeViolation, 0};
  return {PageWalkResult::Success, gpa};
}

PageWalk walk_32bit(const PagingRegisters& regs, std::uint64_t linear, bool write, const PhysicalRead& read) {
  Permissions p;
  std::uint64_t pde = 0;
  if (!read_entry(read, (regs.cr3 & 0xfffff000ULL) + ((linear >> 22) & 0x3ff) * 4, 4, pde))
    return {PageWalkResult::TableNotReadable, 0};
  if ((pde & kPresent) == 0) return {PageWalkResult::PageNotPresent, 0};
  p.add(pde);
  if ((pde & kLargePage) != 0 && (regs.cr4 & kCr4Pse) != 0) {
    if ((pde & (1ULL << 21)) != 0) return {PageWalkResult::InvalidPageTableFlags, 0};
    // PSE-36: PDE bits 20:13 are physical address bits 39:32.
    const std::uint64_t high = ((pde >> 13) & 0xff) << 32;
    return finish(regs, p, write, high | (pde & 0xffc00000ULL) | (linear & 0x3fffff));
  }
  std::uint64_t pte = 0;
  if (!read_entry(read, (pde & 0xfffff000ULL) + ((linear >> 12) & 0x3ff) * 4, 4, pte))
    return {PageWalkResult::TableNotReadable, 0};
  if ((pte & kPresent) == 0) return {PageWalkResult::PageNotPresent, 0};
  p.add(pte);
  return finish(regs, p, write, (pte & 0xfffff000ULL) | (linear & 0xfff));
}

}  // namespace

PageWalk walk_page_tables(const PagingRegisters& regs, std::uint64_t linear, bool write, const PhysicalRead& read) {
  const bool long_mode = (regs.efer & kEferLma) != 0;
  if (!long_mode) linear &= 0xffffffffULL;  // a linear address outside long mode has 32 bits
  if ((regs.cr0 & kCr0Pg) == 0) return {PageWalkResult::Success, linear};
  if ((regs.cr4 & kCr4Pae) == 0) return walk_32bit(regs, linear, write, read);
  const bool five_level = long_mode && (regs.cr4 & kCr4La57) != 0;
  if (long_mode) {
    const int bits = five_level ? 57 : 48;
    const auto high = static_cast<std::int64_t>(linear) >> (bits - 1);
    if (high != 0 && high != -1) return {PageWalkResult::InvalidPageTableFlags, 0};
  }
  const bool nx_reserved = (regs.efer & kEferNxe) == 0;
  Permissions p;
  std::uint64_t table = long_mode ? (regs.cr3 & kAddressMask) : (regs.cr3 & 0xffffffe0ULL);
  const int top = long_mode ? (five_level ? 5 : 4) : 3;
  for (int level = top; level >= 1; --level) {
    const int shift = 12 + 9 * (level - 1);
    const bool pdpte = !long_mode && level == 3;  // PAE's 4-entry table
    const std::uint64_t index = (linear >> shift) & (pdpte ? 0x3 : 0x1ff);
    std::uint64_t entry = 0;
    if (!read_entry(read, table + index * 8, 8, entry)) return {PageWalkResult::TableNotReadable, 0};
    if ((entry & kPresent) == 0) return {PageWalkResult::PageNotPresent, 0};
    if (pdpte) {
      if ((entry & (kPdpteReserved | kNoExecute)) != 0) return {PageWalkResult::InvalidPageTableFlags, 0};
    } else {
      if (nx_reserved && (entry & kNoExecute) != 0) return {PageWalkResult::InvalidPageTableFlags, 0};
      p.add(entry);
    }
    const bool may_be_large = level == 2 || (level == 3 && long_mode);
    if ((entry & kLargePage) != 0 && !pdpte && level != 1) {
      if (!may_be_large) return {PageWalkResult::InvalidPageTableFlags, 0};  // PS in a PML4E / PML5E
      const std::uint64_t size = std::uint64_t{1} << shift;
      return finish(regs, p, write, (entry & kAddressMask & ~(size - 1)) | (linear & (size - 1)));
    }
    table = entry & kAddressMask;
  }
  return finish(regs, p, write, table | (linear & 0xfff));
}

}  // namespace hv::x86
