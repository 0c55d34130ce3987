#pragma once
// Loads a guest image into guest memory: a raw binary at an address, or an ELF64 executable by its
// PT_LOAD segments. Images come from users and are untrusted: every header field is checked before it
// is used, and all copies go through GuestMemory's bounds checks.

#include <cstdint>
#include <span>

#include "hv/address_range.hpp"
#include "hv/error.hpp"
#include "hv/guest_memory.hpp"

namespace hv::vmm {

struct LoadedImage {
  std::uint64_t entry = 0;    // guest-physical entry point
  std::uint64_t lowest = 0;   // first byte written
  std::uint64_t highest = 0;  // last byte written
};

inline constexpr std::size_t kMaxElfSegments = 64;

bool looks_like_elf(std::span<const std::uint8_t> image) noexcept;

// Writes one loadable ELF segment (ELF64 here, ELF32 for Multiboot): checks that the first and last
// byte of `target` are guest RAM before writing anything, copies `bytes` (the file's part) to its start
// and zeroes the rest (the bss). `op` names the loader in an error, `index` the segment.
Result<void> load_segment(const GuestMemory& memory, const char* op, std::size_t index, const AddressRange& target,
                          std::span<const std::uint8_t> bytes);

Result<LoadedImage> load_raw(const GuestMemory& memory, std::span<const std::uint8_t> image, std::uint64_t address);

// ELF64, little-endian, x86-64, ET_EXEC. Segments load at p_paddr; the entry is e_entry translated
// from the virtual to the physical address of the PT_LOAD segment that contains it, or, where no
// segment's virtual range contains it, e_entry itself if a segment's physical range does (Linux's
// vmlinux: linked high, e_entry physical).
Result<LoadedImage> load_elf64(const GuestMemory& memory, std::span<const std::uint8_t> image);

// Where load_elf64 would put `image` (entry, lowest and highest byte), from the same header checks,
// without guest memory: for checking a machine's layout before creating it. load_elf64 may still
// refuse the image, when a segment does not fit in that memory.
Result<LoadedImage> plan_elf64(std::span<const std::uint8_t> image);

}  // namespace hv::vmm
