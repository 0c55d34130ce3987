#include "hv/vmm/image_loader.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>

namespace hv::vmm {

namespace {

constexpr const char* kOp = "load_elf64";

template <class T>
T field(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);  // callers have checked offset + sizeof(T) <= size
  return v;
}

// Offsets in the ELF64 header and program header (System V ABI, ELF-64 Object File Format 1.5).
constexpr std::size_t kEhdrSize = 64, kPhdrSize = 56;
constexpr std::size_t kEType = 16, kEMachine = 18, kEEntry = 24, kEPhoff = 32, kEPhentsize = 54, kEPhnum = 56;
constexpr std::size_t kPType = 0, kPOffset = 8, kPVaddr = 16, kPPaddr = 24, kPFilesz = 32, kPMemsz = 40;
constexpr std::uint16_t kEtExec = 2, kEmX8664 = 62;
constexpr std::uint32_t kPtLoad = 1;

tl::unexpected<Error> invalid(std::string_view why) { return fail(ErrorKind::InvalidArgument, kOp, why); }

// Writes `size` zero bytes at `address` (across adjacent regions), in 4 KiB steps: a bss.
Result<void> zero_guest_range(const GuestMemory& memory, std::uint64_t address, std::uint64_t size) {
  static constexpr std::array<std::uint8_t, 4096> kZeros{};
  while (size > 0) {
    const std::size_t n = std::min<std::uint64_t>(size, kZeros.size());
    if (auto r = memory.write(address, std::span(kZeros).first(n), CrossRegion::Allow); !r) return r;
    address += n;
    size -= n;
  }
  return {};
}

}  // namespace

bool looks_like_elf(std::span<const std::uint8_t> image) noexcept {
  return image.size() >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F';
}

Result<LoadedImage> load_raw(const GuestMemory& memory, std::span<const std::uint8_t> image, std::uint64_t address) {
  if (image.empty()) return fail(ErrorKind::InvalidArgument, "load_raw", "empty image");
  if (auto r = memory.write(address, image); !r) return tl::unexpected(r.error());
  return LoadedImage{.entry = address, .lowest = address, .highest = address + (image.size() - 1)};
}

namespace {

// Checks the ELF64 headers and calls `segment(index, paddr, filesz, memsz, bytes)` for each non-empty
// PT_LOAD segment (bytes: its filesz bytes in the file), in order; returns where the image lies.
template <class Segment>
Result<LoadedImage> walk_elf64(std::span<const std::uint8_t> image, Segment segment) {
  if (image.size() < kEhdrSize || !looks_like_elf(image)) return invalid("not an ELF file");
  if (image[4] != 2 || image[5] != 1) return invalid("not a little-endian ELF64 file");
  if (field<std::uint16_t>(image, kEMachine) != kEmX8664) return invalid("not an x86-64 executable");
  if (field<std::uint16_t>(image, kEType) != kEtExec) {
    return invalid("not ET_EXEC (relocatable and shared objects are not loaded)");
  }
  const auto phoff = field<std::uint64_t>(image, kEPhoff);
  const auto phentsize = field<std::uint16_t>(image, kEPhentsize);
  const auto phnum = field<std::uint16_t>(image, kEPhnum);
  if (phentsize != kPhdrSize) return invalid("program header size " + std::to_string(phentsize));
  if (phnum == 0 || phnum > kMaxElfSegments) {
    return invalid(std::to_string(phnum) + " program headers (1 to 64 supported)");
  }
  if (phoff > image.size() || std::uint64_t{phnum} * kPhdrSize > image.size() - phoff) {
    return invalid("program headers lie outside the file");
  }
  const auto entry = field<std::uint64_t>(image, kEEntry);
  LoadedImage loaded{.entry = 0, .lowest = std::numeric_limits<std::uint64_t>::max(), .highest = 0};
  bool entry_found = false;
  bool entry_is_physical = false;  // e_entry lies in no segment's virtual range, but in one's physical range
  for (std::size_t i = 0; i < phnum; ++i) {
    const auto ph = image.subspan(phoff + i * kPhdrSize, kPhdrSize);
    if (field<std::uint32_t>(ph, kPType) != kPtLoad) continue;
    const auto offset = field<std::uint64_t>(ph, kPOffset);
    const auto vaddr = field<std::uint64_t>(ph, kPVaddr);
    const auto paddr = field<std::uint64_t>(ph, kPPaddr);
    const auto filesz = field<std::uint64_t>(ph, kPFilesz);
    const auto memsz = field<std::uint64_t>(ph, kPMemsz);
    if (memsz == 0) continue;
    if (filesz > memsz) return invalid("segment " + std::to_string(i) + ": file size exceeds memory size");
    if (offset > image.size() || filesz > image.size() - offset) {
      return invalid("segment " + std::to_string(i) + ": file bytes lie outside the file");
    }
    auto target = AddressRange::make(paddr, memsz, kOp);
    if (!target) return tl::unexpected(target.error());
    if (auto r = segment(i, *target, image.subspan(offset, filesz)); !r) return tl::unexpected(r.error());
    loaded.lowest = std::min(loaded.lowest, paddr);
    loaded.highest = std::max(loaded.highest, target->last());
    if (!entry_found && entry >= vaddr && entry - vaddr < memsz) {
      loaded.entry = paddr + (entry - vaddr);
      entry_found = true;
    }
    // Linux's vmlinux links at high virtual addresses but gives e_entry as a physical address (its
    // startup_64 at the load address): accept that when no segment's virtual range holds the entry.
    if (entry >= paddr && entry - paddr < memsz) entry_is_physical = true;
  }
  if (!entry_found && entry_is_physical) {
    loaded.entry = entry;
    entry_found = true;
  }
  if (loaded.highest == 0 && loaded.lowest == std::numeric_limits<std::uint64_t>::max()) {
    return invalid("no loadable segment");
  }
  if (!entry_found) return invalid("the entry point is outside every loaded segment");
  return loaded;
}

}  // namespace

Result<LoadedImage> plan_elf64(std::span<const std::uint8_t> image) {
  return walk_elf64(image,
                    [](std::size_t, const AddressRange&, std::span<const std::uint8_t>) -> Result<void> { return {}; });
}

Result<void> load_segment(const GuestMemory& memory, const char* op, std::size_t index, const AddressRange& target,
                          std::span<const std::uint8_t> bytes) {
  // The whole segment must be guest RAM before anything is written (memsz is checked by the writes
  // below chunk by chunk, but a segment far larger than RAM should fail before doing any work).
  if (!memory.slice(target.start(), 1) || !memory.slice(target.last(), 1)) {
    return fail(ErrorKind::OutOfRange, op, "segment " + std::to_string(index) + " does not fit in guest RAM");
  }
  if (!bytes.empty()) {
    if (auto r = memory.write(target.start(), bytes, CrossRegion::Allow); !r) return r;
  }
  return zero_guest_range(memory, target.start() + bytes.size(), target.size() - bytes.size());
}

Result<LoadedImage> load_elf64(const GuestMemory& memory, std::span<const std::uint8_t> image) {
  return walk_elf64(image,
                    [&memory](std::size_t index, const AddressRange& target, std::span<const std::uint8_t> bytes) {
                      return load_segment(memory, kOp, index, target, bytes);
                    });
}

}  // namespace hv::vmm
