#pragma once
// The guest's physical memory map as the BIOS e820 call would report it, shared by the PVH memory map
// (hvm_memmap_table_entry) and the bzImage zero page (boot_params.e820_table).

#include <cstdint>
#include <vector>

namespace hv::vmm {

enum class E820Type : std::uint32_t { Ram = 1, Reserved = 2 };

struct E820Entry {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  E820Type type = E820Type::Ram;
  bool operator==(const E820Entry&) const = default;
};

// RAM below the EBDA (where the MP table lives), the EBDA-to-1-MiB hole reserved (MP table, legacy ROM
// area), RAM from 1 MiB to the end of guest RAM (`ram_bytes`, more than 1 MiB).
std::vector<E820Entry> linux_memory_map(std::uint64_t ram_bytes);

}  // namespace hv::vmm
