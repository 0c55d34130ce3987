#pragma once
// Executes a decoded instruction (hv/x86_instruction.hpp) against the vCPU's registers and a memory
// callback, as a VMM must for MMIO intercepts on MSHV. Implemented so far: the data-movement forms MOV,
// MOVZX, MOVSX, MOVSXD; every other mnemonic returns Unsupported (docs/x86-emulator.md).

#include <array>
#include <cstdint>
#include <span>

#include "hv/error.hpp"
#include "hv/x86_instruction.hpp"
#include "hv/x86_registers.hpp"

namespace hv::x86 {

// Where an instruction's memory accesses go. Addresses are linear (segment base applied); the VMM
// translates them to guest-physical and routes each access to RAM or a device.
class LinearMemory {
 public:
  virtual ~LinearMemory() = default;
  virtual Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) = 0;
  virtual Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) = 0;
};

// Segment bases indexed by SegmentRegister. In 64-bit mode only FS and GS bases are used.
using SegmentBases = std::array<std::uint64_t, 6>;

// Applies `insn` to `regs` (destination register or memory, then RIP += length). On an error nothing
// in `regs` has changed; a failed memory write may have been performed partly by the callback.
Result<void> execute(const Instruction& insn, CpuMode mode, const SegmentBases& segments, GeneralRegisters& regs,
                     LinearMemory& memory);

}  // namespace hv::x86
