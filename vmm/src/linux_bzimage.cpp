#include "hv/vmm/linux_bzimage.hpp"

#include <cstring>
#include <string>

namespace hv::vmm {

namespace {

constexpr const char* kOp = "parse_bzimage";
// Offsets in the file (and in boot_params, where the setup header is copied to the same place).
constexpr std::size_t kSetupSects = 0x1f1, kBootFlag = 0x1fe, kJumpLength = 0x201, kHeader = 0x202;
constexpr std::size_t kVersion = 0x206, kTypeOfLoader = 0x210, kLoadflags = 0x211, kRamdiskImage = 0x218;
constexpr std::size_t kRamdiskSize = 0x21c, kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22c;
constexpr std::size_t kKernelAlignment = 0x230, kRelocatable = 0x234, kXloadflags = 0x236;
constexpr std::size_t kCmdlineSize = 0x238, kPrefAddress = 0x258, kInitSize = 0x260;
constexpr std::size_t kHeaderEnd = 0x264;       // through init_size: what a 2.12 header has at least
constexpr std::size_t kSetupHeaderMax = 0x290;  // boot_params: the setup header ends before 0x290
constexpr std::size_t kE820Entries = 0x1e8, kE820Table = 0x2d0, kE820EntrySize = 20;
constexpr std::uint8_t kLoadedHigh = 0x01;
constexpr std::uint16_t kXlfKernel64 = 0x01;
constexpr std::uint32_t kMaxSetupSects = 64;  // real kernels have about 30; the real-mode part is 32 KiB at most
constexpr std::uint64_t kMaxAlignment = 1ULL << 30;

template <class T>
T read(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T v{};
  std::memcpy(&v, &bytes[offset], sizeof v);  // callers have checked offset + sizeof(T) <= size
  return v;
}

template <class T, std::size_t N>
void put(std::array<std::uint8_t, N>& out, std::size_t offset, T value) {
  std::memcpy(std::span(out).subspan(offset, sizeof value).data(), &value, sizeof value);
}

tl::unexpected<Error> invalid(const std::string& why) { return fail(ErrorKind::InvalidArgument, kOp, why); }

}  // namespace

bool looks_like_bzimage(std::span<const std::uint8_t> image) noexcept {
  return image.size() >= kHeader + 4 && read<std::uint32_t>(image, kHeader) == kBzImageMagic &&
         read<std::uint16_t>(image, kBootFlag) == 0xaa55;
}

Result<BzImageHeader> parse_bzimage(std::span<const std::uint8_t> image) {
  if (!looks_like_bzimage(image)) return invalid("not a bzImage (no \"HdrS\" at 0x202 or no 0xaa55 at 0x1fe)");
  if (image.size() < kHeaderEnd) return invalid("the file ends inside the setup header");
  BzImageHeader h;
  h.version = read<std::uint16_t>(image, kVersion);
  if (h.version < kBzImageMinVersion) {
    return fail(ErrorKind::Unsupported, kOp,
                "boot protocol " + std::to_string(h.version >> 8) + "." + std::to_string(h.version & 0xff) +
                    " is older than 2.12: no xloadflags, so no 64-bit entry (kernels before 3.8)");
  }
  const std::size_t header_end = kHeader + image[kJumpLength];
  if (header_end < kHeaderEnd || header_end > kSetupHeaderMax) {
    return invalid("setup header length " + hex(header_end) + " (the byte at 0x201) is outside 0x264 to 0x290");
  }
  std::uint32_t sects = image[kSetupSects];
  if (sects == 0) sects = 4;  // the protocol's historical default
  if (sects > kMaxSetupSects) return invalid("setup_sects " + std::to_string(sects) + " is above 64");
  h.setup_bytes = (std::uint64_t{sects} + 1) * 512;
  if (header_end > image.size() || h.setup_bytes >= image.size()) {
    return invalid("setup_sects " + std::to_string(sects) + ": the setup code (" + std::to_string(h.setup_bytes) +
                   " bytes) leaves nothing of a " + std::to_string(image.size()) + "-byte file to load");
  }
  h.setup_header = image.subspan(kSetupSects, header_end - kSetupSects);
  h.protected_mode = image.subspan(h.setup_bytes);
  const auto xloadflags = read<std::uint16_t>(image, kXloadflags);
  if ((xloadflags & kXlfKernel64) == 0)
    return fail(ErrorKind::Unsupported, kOp, "no 64-bit entry (XLF_KERNEL_64 unset)");
  if ((image[kLoadflags] & kLoadedHigh) == 0) {
    return fail(ErrorKind::Unsupported, kOp, "a zImage (LOADED_HIGH unset) loads at 0x10000: not supported");
  }
  h.load_address = read<std::uint64_t>(image, kPrefAddress);
  const auto alignment = read<std::uint32_t>(image, kKernelAlignment);
  if (image[kRelocatable] != 0) {
    if (alignment == 0 || alignment > kMaxAlignment || (alignment & (alignment - 1)) != 0) {
      return invalid("kernel_alignment " + hex(alignment) + " is not a power of two up to 1 GiB");
    }
    if (h.load_address % alignment != 0) {
      return invalid("pref_address " + hex(h.load_address) + " is not a multiple of kernel_alignment " +
                     hex(alignment));
    }
  }
  if (h.load_address % 4096 != 0) return invalid("pref_address " + hex(h.load_address) + " is not page-aligned");
  h.init_size = std::max<std::uint64_t>(read<std::uint32_t>(image, kInitSize), h.protected_mode.size());
  h.initrd_addr_max = read<std::uint32_t>(image, kInitrdAddrMax);
  h.cmdline_size = read<std::uint32_t>(image, kCmdlineSize);
  return h;
}

Result<std::array<std::uint8_t, kBootParamsSize>> build_boot_params(const BzImageHeader& header,
                                                                    std::uint32_t cmdline_address,
                                                                    std::uint32_t initrd_address,
                                                                    std::uint32_t initrd_size,
                                                                    std::span<const E820Entry> memory_map) {
  if (memory_map.size() > kBootParamsMaxE820) {
    return fail(ErrorKind::InvalidArgument, "build_boot_params", "more than 128 e820 entries");
  }
  if (header.setup_header.size() > kSetupHeaderMax - kSetupSects) {
    return fail(ErrorKind::InvalidArgument, "build_boot_params", "setup header longer than boot_params has room for");
  }
  std::array<std::uint8_t, kBootParamsSize> out{};
  std::memcpy(&out[kSetupSects], header.setup_header.data(), header.setup_header.size());
  out[kTypeOfLoader] = 0xff;  // "undefined": hvkit has no assigned loader id
  out[kLoadflags] |= kLoadedHigh;
  put<std::uint32_t>(out, kCmdLinePtr, cmdline_address);
  put<std::uint32_t>(out, kRamdiskImage, initrd_address);
  put<std::uint32_t>(out, kRamdiskSize, initrd_size);
  out[kE820Entries] = static_cast<std::uint8_t>(memory_map.size());
  std::size_t at = kE820Table;
  for (const auto& e : memory_map) {
    put<std::uint64_t>(out, at, e.address);
    put<std::uint64_t>(out, at + 8, e.size);
    put<std::uint32_t>(out, at + 16, static_cast<std::uint32_t>(e.type));
    at += kE820EntrySize;
  }
  return out;
}

}  // namespace hv::vmm
