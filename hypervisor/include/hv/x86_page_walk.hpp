#pragma once
// The guest's own page-table walk, linear -> guest-physical, with the access checks the CPU makes for
// a data read or write: for a VMM whose hypervisor gives no guest-physical address for some pages
// (MSHV's HVCALL_TRANSLATE_VIRTUAL_ADDRESS promises its GPA only with SUCCESS, and a device page is
// not SUCCESS: docs/mshv.md, "Translations"). Paging off, 32-bit (4 KiB and, with CR4.PSE, 4 MiB
// pages, PSE-36), PAE, 4-level and 5-level (CR4.LA57) long mode. Checked: present, R/W (CPL 3, or
// CR0.WP), U/S (CPL 3), SMAP (CR4.SMAP without RFLAGS.AC), the NX bit without EFER.NXE and PS where
// the level has none (reserved), canonical addresses. Not checked: protection keys, the other
// reserved bits, execute access. Accessed/dirty bits are not set (the walk is for the VMM's own
// access, which the CPU would have made with the same translation).

#include <cstdint>
#include <functional>
#include <span>

namespace hv::x86 {

// The registers that select and check a walk. `cpl`: the current privilege level (SS.DPL).
struct PagingRegisters {
  std::uint64_t cr0 = 0;
  std::uint64_t cr3 = 0;
  std::uint64_t cr4 = 0;
  std::uint64_t efer = 0;
  std::uint64_t rflags = 0;
  std::uint8_t cpl = 0;
};

enum class PageWalkResult : std::uint8_t {
  Success,
  PageNotPresent,
  PrivilegeViolation,
  InvalidPageTableFlags,  // a reserved bit set, or a non-canonical address
  TableNotReadable,       // a paging structure outside what `read` can read (not RAM)
};

struct PageWalk {
  PageWalkResult result = PageWalkResult::PageNotPresent;
  std::uint64_t gpa = 0;  // only with Success
};

// Reads guest-physical memory for the walk: false outside RAM.
using PhysicalRead = std::function<bool(std::uint64_t gpa, std::span<std::uint8_t> out)>;

// `linear` translated as the CPU would for a data access (a write when `write`).
PageWalk walk_page_tables(const PagingRegisters& regs, std::uint64_t linear, bool write, const PhysicalRead& read);

}  // namespace hv::x86
