#pragma once
// The bzImage format and the 64-bit boot protocol (Documentation/arch/x86/boot.rst): the setup
// header's checks, and the zero page (struct boot_params) a 64-bit boot loader fills in.
//
// hvkit needs boot protocol 2.12 or later with XLF_KERNEL_64 (xloadflags bit 0, the 64-bit entry at
// the load address + 0x200): xloadflags only exists from 2.12, and without it a kernel cannot say that
// it has the 64-bit entry. Older kernels (before 3.8) are refused.

#include <array>
#include <cstdint>
#include <span>

#include "hv/error.hpp"
#include "hv/vmm/e820.hpp"

namespace hv::vmm {

inline constexpr std::uint32_t kBzImageMagic = 0x53726448;   // "HdrS" at 0x202
inline constexpr std::uint16_t kBzImageMinVersion = 0x020c;  // 2.12
inline constexpr std::size_t kBootParamsSize = 4096;
inline constexpr std::size_t kBootParamsMaxE820 = 128;
inline constexpr std::uint64_t kBzImage64EntryOffset = 0x200;

struct BzImageHeader {
  std::uint16_t version = 0;
  std::uint64_t setup_bytes = 0;                 // (setup_sects + 1) * 512: where the kernel starts
  std::span<const std::uint8_t> setup_header;    // file bytes 0x1f1 up to 0x202 + byte 0x201
  std::span<const std::uint8_t> protected_mode;  // the rest of the file: what loads at load_address
  std::uint64_t load_address = 0;                // pref_address
  std::uint64_t init_size = 0;                   // bytes from load_address the kernel needs
  std::uint32_t initrd_addr_max = 0;             // the initrd's highest byte
  std::uint32_t cmdline_size = 0;                // most command-line bytes, without the NUL
};

// "HdrS" at 0x202 and 0xaa55 at 0x1fe.
bool looks_like_bzimage(std::span<const std::uint8_t> image) noexcept;

Result<BzImageHeader> parse_bzimage(std::span<const std::uint8_t> image);

// The zero page: the kernel's setup header copied to 0x1f1, type_of_loader 0xff, the command line,
// the initrd (0, 0 for none) and the e820 map (at most 128 entries).
Result<std::array<std::uint8_t, kBootParamsSize>> build_boot_params(const BzImageHeader& header,
                                                                    std::uint32_t cmdline_address,
                                                                    std::uint32_t initrd_address,
                                                                    std::uint32_t initrd_size,
                                                                    std::span<const E820Entry> memory_map);

}  // namespace hv::vmm
