#pragma once
// Loads a Multiboot (version 1) kernel the way GRUB or QEMU's -kernel would hand it over, without
// firmware: finds the Multiboot header, loads the ELF32 image's PT_LOAD segments (bss zeroed), places
// the modules and writes the Multiboot information block (memory sizes, command line, modules, memory
// map). The caller then enters the kernel in 32-bit protected mode with paging off, EAX =
// kMultibootBootloaderMagic and EBX = MultibootBoot::info (hv::x86::enter_protected_mode).
//
// Images, modules and command lines come from users and are untrusted: every header field is checked
// before it is used, counts and sizes are bounded, and every copy goes through GuestMemory's bounds
// checks. Refused: a header this loader cannot honour (a video mode, the a.out kludge, unknown required
// flags), an image that is not a little-endian i386 ELF32 executable, segments outside RAM or over the
// boot information area.
//
// Guest-physical layout (docs/threat-model/multiboot-loader.md):
//   [0x1000, 0x1020)            the flat GDT the protected-mode entry uses (kMultibootGdt)
//   [0x1020, 0x8000)            the information block, module list, memory map and strings
//   page-aligned, from 1 MiB    the modules: below the image when they fit there, else after it
// Page 0 and 0x8000-0xdfff stay untouched (real-mode IVT, SMP trampolines of test kernels), and the
// kernel must not load into [0x1000, 0x8000).

#include <cstdint>
#include <span>
#include <string_view>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vmm/image_loader.hpp"

namespace hv::vmm {

inline constexpr std::uint32_t kMultibootHeaderMagic = 0x1BADB002;
inline constexpr std::uint32_t kMultibootBootloaderMagic = 0x2BADB002;
inline constexpr std::size_t kMultibootSearchBytes = 8192;  // the header is in the first 8 KiB
inline constexpr std::size_t kMaxMultibootModules = 16;
inline constexpr std::size_t kMaxMultibootCmdline = 4096;  // bytes, the command line and each module's
inline constexpr std::uint64_t kMultibootGdt = 0x1000;
inline constexpr std::uint64_t kMultibootInfoBase = 0x1020;
inline constexpr std::uint64_t kMultibootInfoEnd = 0x8000;
inline constexpr std::uint64_t kMultibootModulesBase = 0x100000;

// The header's flags this loader honours: 0 (page-aligned modules: they always are) and 1 (memory
// information: always given). Bits 2-15 are requirements (2: a video mode) and are refused; bit 16
// (the a.out kludge's load addresses) is refused; bits 17-31 are optional and ignored.
inline constexpr std::uint32_t kMultibootHonouredFlags = 0x3;

struct MultibootHeader {
  std::size_t offset = 0;  // in the image, 4-byte aligned
  std::uint32_t flags = 0;
};

struct MultibootModule {
  std::span<const std::uint8_t> bytes;
  std::string_view cmdline;  // the module's string (conventionally its path and arguments)
};

struct MultibootBoot {
  LoadedImage image;              // entry (physical, below 4 GiB), lowest and highest byte of the kernel
  std::uint32_t info = 0;         // the information block's address, for EBX
  std::uint64_t modules_end = 0;  // one past the last module byte (kMultibootModulesBase without modules)
};

// The header in the first kMultibootSearchBytes of `image`: magic, flags + checksum (the three sum to 0
// modulo 2^32), and flags this loader can honour.
Result<MultibootHeader> find_multiboot_header(std::span<const std::uint8_t> image);

// Where load_multiboot would put the kernel (the same header and ELF32 checks), without guest memory:
// for checking a machine's layout before creating it.
Result<LoadedImage> plan_multiboot(std::span<const std::uint8_t> image);

// Loads `image` into `memory` (RAM from 0 to `ram_bytes`), the modules and the information block with
// `cmdline` (at most kMaxMultibootCmdline bytes, no NUL: a Multiboot kernel conventionally receives
// "IMAGE ARGS"); at most kMaxMultibootModules modules.
Result<MultibootBoot> load_multiboot(const GuestMemory& memory, std::uint64_t ram_bytes,
                                     std::span<const std::uint8_t> image, std::string_view cmdline,
                                     std::span<const MultibootModule> modules);

}  // namespace hv::vmm
