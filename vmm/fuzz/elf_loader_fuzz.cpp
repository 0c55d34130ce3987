// The image loaders on arbitrary bytes: ELF64 headers and program tables, and raw images at
// arbitrary addresses. Nothing may be written outside guest RAM (GuestMemory checks, ASan verifies).
#include "fuzz_input.hpp"
#include "hv/vmm/image_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec ram[] = {{0, 0x400000}, {0x400000, 0x100000}};  // two adjacent regions
    return std::move(*hv::GuestMemory::create(ram));
  }();
  std::span<const std::uint8_t> image(data, size);
  if (auto loaded = hv::vmm::load_elf64(memory, image)) {
    if (loaded->lowest > loaded->highest || !memory.find_region(loaded->entry)) __builtin_trap();
  }
  hvfuzz::FuzzInput in(data, size);
  // Most addresses do not fit in RAM and are refused: only a write outside RAM is a finding.
  (void)hv::vmm::load_raw(memory, image.first(std::min<std::size_t>(size, 4096)), in.take<std::uint64_t>());
  return 0;
}
