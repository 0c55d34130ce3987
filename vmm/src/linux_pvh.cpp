#include "hv/vmm/linux_pvh.hpp"

#include <cstring>
#include <string>

namespace hv::vmm {

namespace {

constexpr const char* kOp = "find_pvh_entry";
// ELF64 offsets (System V ABI); the header itself was checked by plan_elf64.
constexpr std::size_t kEhdrSize = 64, kPhdrSize = 56, kEPhoff = 32, kEPhnum = 56;
constexpr std::size_t kPType = 0, kPOffset = 8, kPFilesz = 32;
constexpr std::uint32_t kPtNote = 4;
constexpr std::size_t kNoteHeader = 12;  // namesz, descsz, type

template <class T>
T read(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T v{};
  std::memcpy(&v, &bytes[offset], sizeof v);  // callers have checked offset + sizeof(T) <= size
  return v;
}

template <class T>
void put(std::vector<std::uint8_t>& out, std::size_t offset, T value) {
  std::memcpy(&out[offset], &value, sizeof value);  // offsets are constants inside `out`
}

constexpr std::uint64_t align4(std::uint64_t n) { return (n + 3) & ~std::uint64_t{3}; }

tl::unexpected<Error> invalid(const std::string& why) { return fail(ErrorKind::InvalidArgument, kOp, why); }

// Searches one PT_NOTE segment's bytes. nullopt: no PVH note there; `budget` bounds the notes read.
Result<std::optional<std::uint32_t>> search_notes(std::span<const std::uint8_t> notes, std::size_t segment,
                                                  std::size_t& budget) {
  std::uint64_t at = 0;
  while (at < notes.size()) {
    if (budget-- == 0) return invalid("more than 256 ELF notes: giving up on finding the PVH entry");
    const std::string where = "PT_NOTE segment " + std::to_string(segment) + ", note at offset " + std::to_string(at);
    if (notes.size() - at < kNoteHeader) return invalid(where + ": truncated note header");
    const auto namesz = read<std::uint32_t>(notes, at);
    const auto descsz = read<std::uint32_t>(notes, at + 4);
    const auto type = read<std::uint32_t>(notes, at + 8);
    const std::uint64_t name_at = at + kNoteHeader;
    const std::uint64_t desc_at = name_at + align4(namesz);  // 32-bit sizes: no overflow in 64 bits
    if (desc_at > notes.size() || descsz > notes.size() - desc_at) {
      return invalid(where + ": name or descriptor runs past the segment (namesz " + std::to_string(namesz) +
                     ", descsz " + std::to_string(descsz) + ")");
    }
    const bool xen = namesz == 4 && std::memcmp(&notes[name_at], "Xen", 4) == 0;
    if (xen && type == kXenElfnotePhys32Entry) {
      std::uint64_t entry = 0;
      if (descsz == 4) {
        entry = read<std::uint32_t>(notes, desc_at);
      } else if (descsz == 8) {
        entry = read<std::uint64_t>(notes, desc_at);
      } else {
        return invalid(where + ": XEN_ELFNOTE_PHYS32_ENTRY descriptor of " + std::to_string(descsz) +
                       " bytes (4 or 8 expected)");
      }
      if (entry > 0xffffffffULL) return invalid(where + ": PVH entry above 4 GiB");
      return static_cast<std::uint32_t>(entry);
    }
    at = desc_at + align4(descsz);
  }
  return std::optional<std::uint32_t>{};
}

}  // namespace

Result<std::uint32_t> find_pvh_entry(std::span<const std::uint8_t> elf) {
  if (elf.size() < kEhdrSize) return invalid("not an ELF64 file");
  const auto phoff = read<std::uint64_t>(elf, kEPhoff);
  const auto phnum = read<std::uint16_t>(elf, kEPhnum);
  if (phoff > elf.size() || std::uint64_t{phnum} * kPhdrSize > elf.size() - phoff) {
    return invalid("program headers lie outside the file");
  }
  std::size_t budget = kMaxPvhNotes;
  for (std::size_t i = 0; i < phnum; ++i) {
    const auto ph = elf.subspan(phoff + i * kPhdrSize, kPhdrSize);
    if (read<std::uint32_t>(ph, kPType) != kPtNote) continue;
    const auto offset = read<std::uint64_t>(ph, kPOffset);
    const auto filesz = read<std::uint64_t>(ph, kPFilesz);
    if (offset > elf.size() || filesz > elf.size() - offset) {
      return invalid("PT_NOTE segment " + std::to_string(i) + " lies outside the file");
    }
    auto found = search_notes(elf.subspan(offset, filesz), i, budget);
    if (!found) return tl::unexpected(found.error());
    if (*found) return **found;
  }
  return fail(ErrorKind::Unsupported, kOp,
              "no XEN_ELFNOTE_PHYS32_ENTRY note: this ELF kernel has no PVH entry (build it with CONFIG_PVH=y, "
              "or boot its bzImage)");
}

std::size_t pvh_start_info_size(std::size_t memory_map_entries) {
  return kHvmStartInfoSize + kHvmModlistEntrySize + memory_map_entries * kHvmMemmapEntrySize;
}

std::vector<std::uint8_t> build_pvh_start_info(std::uint64_t base, std::uint64_t cmdline_address,
                                               std::optional<PvhModule> module, std::span<const E820Entry> memory_map) {
  // xen/include/public/arch-x86/hvm/start_info.h, version 1. The module list follows the structure,
  // then the memory map; both are 8-byte aligned.
  std::vector<std::uint8_t> out(pvh_start_info_size(memory_map.size()));
  const std::uint64_t modlist = base + kHvmStartInfoSize;
  const std::uint64_t memmap = modlist + kHvmModlistEntrySize;
  put<std::uint32_t>(out, 0, kHvmStartMagic);
  put<std::uint32_t>(out, 4, 1);  // version
  put<std::uint32_t>(out, 8, 0);  // flags
  put<std::uint32_t>(out, 12, module ? 1 : 0);
  put<std::uint64_t>(out, 16, module ? modlist : 0);
  put<std::uint64_t>(out, 24, cmdline_address);
  put<std::uint64_t>(out, 32, 0);  // rsdp_paddr: no ACPI, the kernel finds the MP table
  put<std::uint64_t>(out, 40, memmap);
  put<std::uint32_t>(out, 48, static_cast<std::uint32_t>(memory_map.size()));
  if (module) {
    put<std::uint64_t>(out, kHvmStartInfoSize, module->address);
    put<std::uint64_t>(out, kHvmStartInfoSize + 8, module->size);
  }
  std::size_t at = kHvmStartInfoSize + kHvmModlistEntrySize;
  for (const auto& e : memory_map) {
    put<std::uint64_t>(out, at, e.address);
    put<std::uint64_t>(out, at + 8, e.size);
    put<std::uint32_t>(out, at + 16, static_cast<std::uint32_t>(e.type));
    at += kHvmMemmapEntrySize;
  }
  return out;
}

}  // namespace hv::vmm
