#pragma once
// An Intel MultiProcessor Specification 1.4 table for a machine without firmware: the floating
// pointer, then the configuration table with one processor entry per vCPU (APIC ids 0..n-1, vCPU 0
// the bootstrap processor), an ISA bus, the IOAPIC (id n) and identity routing of ISA IRQs 0-15 and
// the virtio GSIs 16-23 to its pins, with ExtINT on LINT0 and NMI on LINT1. Linux finds it by
// scanning the last KiB of base memory (0x9fc00), where hvkit puts it.

#include <cstdint>
#include <vector>

#include "hv/error.hpp"

namespace hv::vmm {

inline constexpr std::uint64_t kLapicAddress = 0xfee00000;
inline constexpr std::uint64_t kIoApicAddress = 0xfec00000;
inline constexpr std::uint32_t kMpIoApicPins = 24;

// Bytes build_mp_table writes for `vcpus` processors.
std::uint64_t mp_table_size(std::uint32_t vcpus) noexcept;

// The floating pointer at `address` (16-byte aligned, below 1 MiB) followed by the configuration
// table. vcpus: 1 to 254 (ids up to 253 and the IOAPIC's 254 stay below the broadcast id 255).
Result<std::vector<std::uint8_t>> build_mp_table(std::uint64_t address, std::uint32_t vcpus);

}  // namespace hv::vmm
