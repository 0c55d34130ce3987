#pragma once
// How the simulated hypervisor reads guest memory the way the CPU would: guest-virtual to
// guest-physical translation over the guest's own page tables, and the length of the IO instruction
// that caused an IO intercept. Written for the simulator alone (the backend has its own emulator).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "hv/x86_registers.hpp"

namespace hv::mshv::sim {

// Reads guest-physical memory; false when the range is not RAM.
using PhysicalReader = std::function<bool(std::uint64_t gpa, std::span<std::uint8_t> out)>;

enum class TranslateResult : std::uint8_t { Success, PageNotPresent, PrivilegeViolation };

// Linear address -> guest-physical under the paging mode `sregs` describe: none, 32-bit, PAE or
// 4-level. Checks presence, and writability when `write` (supervisor access; CR0.WP honoured).
TranslateResult translate(const SpecialRegisters& sregs, std::uint64_t linear, bool write, const PhysicalReader& read,
                          std::uint64_t& gpa);

// Up to 16 instruction bytes at `linear` (fewer where a page is missing). Returns how many were read.
std::size_t fetch_instruction(const SpecialRegisters& sregs, std::uint64_t linear, const PhysicalReader& read,
                              std::span<std::uint8_t, 16> out);

struct IoInstruction {
  std::uint8_t length = 0;  // 0: not an IN/OUT/INS/OUTS
  bool string = false;
  bool rep = false;
};
IoInstruction decode_io_instruction(std::span<const std::uint8_t> bytes, bool long_mode);

}  // namespace hv::mshv::sim
