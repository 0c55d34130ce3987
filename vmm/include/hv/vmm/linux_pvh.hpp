#pragma once
// The PVH boot protocol (Xen's, which Linux and QEMU also use without Xen): the entry point from the
// kernel's XEN_ELFNOTE_PHYS32_ENTRY note, and the hvm_start_info structure (version 1: with the
// memory map) with its module list, handed over in EBX.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hv/error.hpp"
#include "hv/vmm/e820.hpp"

namespace hv::vmm {

inline constexpr std::uint32_t kXenElfnotePhys32Entry = 18;
inline constexpr std::uint32_t kHvmStartMagic = 0x336ec578;
inline constexpr std::size_t kHvmStartInfoSize = 56;
inline constexpr std::size_t kHvmModlistEntrySize = 32;
inline constexpr std::size_t kHvmMemmapEntrySize = 24;
inline constexpr std::size_t kMaxPvhNotes = 256;  // notes examined before the search gives up

// The 32-bit physical entry of an ELF64 image that plan_elf64 accepted: the descriptor of the first
// "Xen" note of type 18 in a PT_NOTE segment (4 bytes, or 8 with the upper half zero). Every note
// header, name and descriptor is bounds-checked against its segment and the file.
Result<std::uint32_t> find_pvh_entry(std::span<const std::uint8_t> elf);

struct PvhModule {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
};

// hvm_start_info at `base`, followed by the module list (0 or 1 entry) and the memory map: the bytes
// to write at `base`. pvh_start_info_size tells how many there will be.
std::vector<std::uint8_t> build_pvh_start_info(std::uint64_t base, std::uint64_t cmdline_address,
                                               std::optional<PvhModule> module, std::span<const E820Entry> memory_map);
std::size_t pvh_start_info_size(std::size_t memory_map_entries);

}  // namespace hv::vmm
