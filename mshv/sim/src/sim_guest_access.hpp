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

// The guest-virtual address of the memory intercept at `gpa` by the instruction in `bytes` (run with
// `regs` and `sregs`): the linear address of the instruction's memory operand that translates to
// exactly `gpa`, if one does. The hypervisor reports it in the message (GVA valid, GVA->GPA valid)
// for an access made through a linear address; nullopt where the simulator cannot name one (an
// instruction hvkit's decoder does not know, an access the operand's first byte does not start).
std::optional<std::uint64_t> intercepted_gva(std::span<const std::uint8_t> bytes, const GeneralRegisters& regs,
                                             const SpecialRegisters& sregs, std::uint64_t gpa,
                                             const PhysicalReader& read);

struct IoInstruction {
  std::uint8_t length = 0;  // 0: not an IN/OUT/INS/OUTS
  bool string = false;
  bool rep = false;
};
IoInstruction decode_io_instruction(std::span<const std::uint8_t> bytes, bool long_mode);

}  // namespace hv::mshv::sim
