#include "hv/vmm/multiboot_loader.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace hv::vmm {

namespace {

constexpr const char* kOp = "load_multiboot";
constexpr std::uint64_t kFourGiB = 1ULL << 32;
constexpr std::uint64_t kOneMiB = 1ULL << 20;
constexpr std::uint64_t kLowMemoryEnd = 0x9fc00;  // 639 KiB: conventional memory, as BIOSes report it

// Offsets in the ELF32 header and program header (System V ABI, Intel386 supplement).
constexpr std::size_t kEhdrSize = 52, kPhdrSize = 32;
constexpr std::size_t kEType = 16, kEMachine = 18, kEEntry = 24, kEPhoff = 28, kEPhentsize = 42, kEPhnum = 44;
constexpr std::size_t kPType = 0, kPOffset = 4, kPVaddr = 8, kPPaddr = 12, kPFilesz = 16, kPMemsz = 20;
constexpr std::uint16_t kEtExec = 2, kEm386 = 3;
constexpr std::uint32_t kPtLoad = 1;

// Multiboot information block (Multiboot Specification 0.6.96, section 3.3).
constexpr std::size_t kInfoSize = 88;
constexpr std::size_t kInfoFlags = 0, kInfoMemLower = 4, kInfoMemUpper = 8, kInfoCmdline = 16, kInfoModsCount = 20,
                      kInfoModsAddr = 24, kInfoMmapLength = 44, kInfoMmapAddr = 48, kInfoBootLoaderName = 64;
constexpr std::uint32_t kInfoHasMemory = 1U << 0, kInfoHasCmdline = 1U << 2, kInfoHasMods = 1U << 3,
                        kInfoHasMmap = 1U << 6, kInfoHasBootLoaderName = 1U << 9;
constexpr std::size_t kModuleEntrySize = 16, kMmapEntrySize = 24;
// Where each part of the information area goes (all inside [kMultibootInfoBase, kMultibootInfoEnd)).
constexpr std::uint64_t kModuleTable = 0x1080;
constexpr std::uint64_t kMmap = kModuleTable + kMaxMultibootModules * kModuleEntrySize;  // 0x1180
constexpr std::uint64_t kBootLoaderName = kMmap + 2 * kMmapEntrySize + 16;               // 0x11c0
constexpr std::uint64_t kStrings = 0x1200;
constexpr std::string_view kLoaderName = "hvkit";
static_assert(kMultibootInfoBase + kInfoSize <= kModuleTable && kBootLoaderName + kLoaderName.size() < kStrings &&
              kMmap + 2 * kMmapEntrySize <= kBootLoaderName);

template <class T>
T field(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);  // callers have checked offset + sizeof(T) <= size
  return v;
}

template <class T>
void put(std::span<std::uint8_t> bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

tl::unexpected<Error> invalid(std::string_view why) { return fail(ErrorKind::InvalidArgument, kOp, why); }
tl::unexpected<Error> out_of_range(std::string_view why) { return fail(ErrorKind::OutOfRange, kOp, why); }

std::uint64_t page_align_up(std::uint64_t address) { return (address + kPageSize - 1) & ~(kPageSize - 1); }

// Checks the ELF32 headers and calls `segment(index, target, bytes)` for each non-empty PT_LOAD
// segment (bytes: its p_filesz bytes in the file), in order; returns where the image lies.
template <class Segment>
Result<LoadedImage> walk_elf32(std::span<const std::uint8_t> image, Segment segment) {
  if (image.size() < kEhdrSize || !looks_like_elf(image)) {
    return invalid("not an ELF file (Multiboot kernels are loaded as ELF32 executables only)");
  }
  if (image[4] != 1 || image[5] != 1) return invalid("not a little-endian ELF32 file");
  if (field<std::uint16_t>(image, kEMachine) != kEm386) return invalid("not an i386 (EM_386) executable");
  if (field<std::uint16_t>(image, kEType) != kEtExec) {
    return invalid("not ET_EXEC (relocatable and shared objects are not loaded)");
  }
  const std::uint64_t phoff = field<std::uint32_t>(image, kEPhoff);
  const auto phentsize = field<std::uint16_t>(image, kEPhentsize);
  const auto phnum = field<std::uint16_t>(image, kEPhnum);
  if (phentsize != kPhdrSize) return invalid("program header size " + std::to_string(phentsize));
  if (phnum == 0 || phnum > kMaxElfSegments) {
    return invalid(std::to_string(phnum) + " program headers (1 to 64 supported)");
  }
  if (phoff > image.size() || std::uint64_t{phnum} * kPhdrSize > image.size() - phoff) {
    return invalid("program headers lie outside the file");
  }
  const std::uint64_t entry = field<std::uint32_t>(image, kEEntry);
  LoadedImage loaded{.entry = 0, .lowest = std::numeric_limits<std::uint64_t>::max(), .highest = 0};
  bool any = false, entry_found = false;
  for (std::size_t i = 0; i < phnum; ++i) {
    const auto ph = image.subspan(phoff + i * kPhdrSize, kPhdrSize);
    if (field<std::uint32_t>(ph, kPType) != kPtLoad) continue;
    const std::uint64_t offset = field<std::uint32_t>(ph, kPOffset);
    const std::uint64_t vaddr = field<std::uint32_t>(ph, kPVaddr);
    const std::uint64_t paddr = field<std::uint32_t>(ph, kPPaddr);
    const std::uint64_t filesz = field<std::uint32_t>(ph, kPFilesz);
    const std::uint64_t memsz = field<std::uint32_t>(ph, kPMemsz);
    const std::string name = "segment " + std::to_string(i);
    if (memsz == 0) continue;
    if (filesz > memsz) return invalid(name + ": file size exceeds memory size");
    if (offset > image.size() || filesz > image.size() - offset)
      return invalid(name + ": file bytes lie outside the file");
    if (paddr + memsz > kFourGiB) return invalid(name + ": ends above 4 GiB");
    if (paddr < kMultibootInfoEnd && paddr + memsz > kMultibootGdt) {
      return out_of_range(name + " (" + hex(paddr) + " to " + hex(paddr + memsz - 1) +
                          ") overlaps the boot information area " + hex(kMultibootGdt) + " to " +
                          hex(kMultibootInfoEnd - 1));
    }
    auto target = AddressRange::make(paddr, memsz, kOp);
    if (!target) return tl::unexpected(target.error());
    if (auto r = segment(i, *target, image.subspan(offset, filesz)); !r) return tl::unexpected(r.error());
    any = true;
    loaded.lowest = std::min(loaded.lowest, paddr);
    loaded.highest = std::max(loaded.highest, target->last());
    if (!entry_found && entry >= vaddr && entry - vaddr < memsz) {
      loaded.entry = paddr + (entry - vaddr);
      entry_found = true;
    }
  }
  if (!any) return invalid("no loadable segment");
  if (!entry_found) return invalid("the entry point is outside every loaded segment");
  return loaded;
}

Result<LoadedImage> plan_image(std::span<const std::uint8_t> image) {
  if (auto header = find_multiboot_header(image); !header) return tl::unexpected(header.error());
  return walk_elf32(image,
                    [](std::size_t, const AddressRange&, std::span<const std::uint8_t>) -> Result<void> { return {}; });
}

// A string for the guest: at most kMaxMultibootCmdline bytes, no NUL inside (the guest reads up to the
// first NUL, so a NUL would silently cut it).
Result<void> check_string(std::string_view text, std::string_view what) {
  if (text.size() > kMaxMultibootCmdline) {
    return invalid(std::string(what) + " is " + std::to_string(text.size()) + " bytes, above " +
                   std::to_string(kMaxMultibootCmdline));
  }
  if (text.find('\0') != std::string_view::npos) return invalid(std::string(what) + " contains a NUL byte");
  return {};
}

}  // namespace

Result<MultibootHeader> find_multiboot_header(std::span<const std::uint8_t> image) {
  const std::size_t searched = std::min(image.size(), kMultibootSearchBytes);
  for (std::size_t offset = 0; offset + 12 <= searched; offset += 4) {
    if (field<std::uint32_t>(image, offset) != kMultibootHeaderMagic) continue;
    const auto flags = field<std::uint32_t>(image, offset + 4);
    const auto checksum = field<std::uint32_t>(image, offset + 8);
    if (static_cast<std::uint32_t>(kMultibootHeaderMagic + flags + checksum) != 0) continue;  // not a header
    if ((flags & (1U << 16)) != 0) {
      return invalid(
          "the Multiboot header asks for the a.out kludge (flag 16, load addresses in the header), "
          "which this loader does not support: give an ELF32 kernel without flag 16");
    }
    if ((flags & (1U << 2)) != 0) {
      return invalid("the Multiboot header requires a video mode (flag 2); this machine has no display");
    }
    if (const std::uint32_t unknown = flags & 0xffff & ~kMultibootHonouredFlags; unknown != 0) {
      return invalid("the Multiboot header requires features this loader does not know (flags " + hex(unknown) + ")");
    }
    return MultibootHeader{.offset = offset, .flags = flags};
  }
  return invalid("no Multiboot header (magic 0x1badb002 with a matching checksum) in the first 8 KiB");
}

Result<LoadedImage> plan_multiboot(std::span<const std::uint8_t> image) { return plan_image(image); }

Result<MultibootBoot> load_multiboot(const GuestMemory& memory, std::uint64_t ram_bytes,
                                     std::span<const std::uint8_t> image, std::string_view cmdline,
                                     std::span<const MultibootModule> modules) {
  if (ram_bytes < kOneMiB) return invalid("Multiboot needs at least 1 MiB of RAM");
  if (modules.size() > kMaxMultibootModules) {
    return invalid(std::to_string(modules.size()) + " modules (at most " + std::to_string(kMaxMultibootModules) + ")");
  }
  // Everything untrusted is checked, and the layout planned, before guest memory is written.
  if (auto r = check_string(cmdline, "the command line"); !r) return tl::unexpected(r.error());
  std::uint64_t strings = cmdline.size() + 1;
  std::uint64_t module_bytes = 0;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    if (auto r = check_string(modules[i].cmdline, "module " + std::to_string(i) + "'s string"); !r) {
      return tl::unexpected(r.error());
    }
    strings += modules[i].cmdline.size() + 1;
    module_bytes += page_align_up(modules[i].bytes.size());  // each below 2^64 / 16: spans of host memory
  }
  if (strings > kMultibootInfoEnd - kStrings) {
    return invalid("the command line and module strings take " + std::to_string(strings) +
                   " bytes; the boot information area holds " + std::to_string(kMultibootInfoEnd - kStrings));
  }
  auto planned = plan_image(image);
  if (!planned) return tl::unexpected(planned.error());
  if (planned->highest >= ram_bytes) {
    return out_of_range("the kernel (" + hex(planned->lowest) + " to " + hex(planned->highest) +
                        ") does not fit in RAM, which ends at " + hex(ram_bytes));
  }
  // The modules go from 1 MiB when they fit below the kernel, else after it.
  std::uint64_t modules_base = kMultibootModulesBase;
  if (!(planned->lowest >= kMultibootModulesBase && module_bytes <= planned->lowest - kMultibootModulesBase)) {
    modules_base = std::max(kMultibootModulesBase, page_align_up(planned->highest + 1));
  }
  const std::uint64_t modules_end = modules_base + module_bytes;
  if (modules_end > std::min(ram_bytes, kFourGiB)) {
    return out_of_range("the modules (" + std::to_string(module_bytes) + " bytes page-aligned, from " +
                        hex(modules_base) + ") do not fit in RAM below 4 GiB, which ends at " +
                        hex(std::min(ram_bytes, kFourGiB)));
  }

  auto loaded =
      walk_elf32(image, [&memory](std::size_t index, const AddressRange& target, std::span<const std::uint8_t> bytes) {
        return load_segment(memory, kOp, index, target, bytes);
      });
  if (!loaded) return tl::unexpected(loaded.error());

  // The information area: the block, the module list, the memory map, the loader's name, the strings.
  std::vector<std::uint8_t> area(kMultibootInfoEnd - kMultibootInfoBase, 0);
  const auto at = [](std::uint64_t address) { return static_cast<std::size_t>(address - kMultibootInfoBase); };
  std::uint64_t next_string = kStrings;
  const auto add_string = [&](std::string_view text) {
    const std::uint64_t address = next_string;
    std::copy(text.begin(), text.end(), area.begin() + static_cast<std::ptrdiff_t>(at(address)));
    next_string += text.size() + 1;  // the vector's zero is the NUL
    return static_cast<std::uint32_t>(address);
  };
  std::uint64_t next_module = modules_base;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const auto& module = modules[i];
    if (!module.bytes.empty()) {
      if (auto r = memory.write(next_module, module.bytes, CrossRegion::Allow); !r) return tl::unexpected(r.error());
    }
    const std::size_t entry = at(kModuleTable) + i * kModuleEntrySize;
    put<std::uint32_t>(area, entry, static_cast<std::uint32_t>(next_module));
    put<std::uint32_t>(area, entry + 4, static_cast<std::uint32_t>(next_module + module.bytes.size()));
    put<std::uint32_t>(area, entry + 8, add_string(module.cmdline));
    next_module += page_align_up(module.bytes.size());
  }
  // Memory map: conventional memory below 639 KiB, and RAM from 1 MiB to its end (the VMM has no
  // holes above 1 MiB); type 1 = available.
  const std::array<std::pair<std::uint64_t, std::uint64_t>, 2> ranges{
      {{0, kLowMemoryEnd}, {kOneMiB, ram_bytes - kOneMiB}}};
  std::uint32_t mmap_length = 0;
  for (const auto& [base, length] : ranges) {
    if (length == 0) continue;
    const std::size_t entry = at(kMmap) + mmap_length;
    put<std::uint32_t>(area, entry, kMmapEntrySize - 4);  // size excludes itself
    put<std::uint64_t>(area, entry + 4, base);
    put<std::uint64_t>(area, entry + 12, length);
    put<std::uint32_t>(area, entry + 20, 1);
    mmap_length += kMmapEntrySize;
  }
  std::copy(kLoaderName.begin(), kLoaderName.end(), area.begin() + static_cast<std::ptrdiff_t>(at(kBootLoaderName)));
  const std::size_t info = at(kMultibootInfoBase);
  put<std::uint32_t>(area, info + kInfoFlags,
                     kInfoHasMemory | kInfoHasCmdline | kInfoHasMods | kInfoHasMmap | kInfoHasBootLoaderName);
  put<std::uint32_t>(area, info + kInfoMemLower, static_cast<std::uint32_t>(kLowMemoryEnd / 1024));
  put<std::uint32_t>(area, info + kInfoMemUpper,
                     static_cast<std::uint32_t>((std::min(ram_bytes, kFourGiB) - kOneMiB) / 1024));
  put<std::uint32_t>(area, info + kInfoCmdline, add_string(cmdline));
  put<std::uint32_t>(area, info + kInfoModsCount, static_cast<std::uint32_t>(modules.size()));
  put<std::uint32_t>(area, info + kInfoModsAddr, static_cast<std::uint32_t>(kModuleTable));
  put<std::uint32_t>(area, info + kInfoMmapLength, mmap_length);
  put<std::uint32_t>(area, info + kInfoMmapAddr, static_cast<std::uint32_t>(kMmap));
  put<std::uint32_t>(area, info + kInfoBootLoaderName, static_cast<std::uint32_t>(kBootLoaderName));
  if (auto r = memory.write(kMultibootInfoBase, area, CrossRegion::Allow); !r) return tl::unexpected(r.error());
  return MultibootBoot{
      .image = *loaded, .info = static_cast<std::uint32_t>(kMultibootInfoBase), .modules_end = modules_end};
}

}  // namespace hv::vmm
