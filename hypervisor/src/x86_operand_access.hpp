#pragma once
// Register and memory operands of one instruction being executed (internal to the executor): address
// arithmetic with the CPU's wrap-around rules, x86 register-write rules, and memory accesses through
// the caller's LinearMemory. Works on a register copy the executor commits only on success.

#include <cstdint>

#include "hv/x86_emulator.hpp"

namespace hv::x86::detail {

// A resolved operand: a register (with the AH..BH case) or a linear address, and a width in bytes.
struct Location {
  bool in_memory = false;
  std::uint8_t reg = kNoRegister;
  bool high_byte = false;
  std::uint64_t linear = 0;
  std::uint8_t size = 0;
};

class OperandAccess {
 public:
  OperandAccess(const Instruction& insn, CpuMode mode, const SegmentBases& segments, GeneralRegisters& regs,
                LinearMemory& memory) noexcept
      : insn_(insn), mode_(mode), segments_(segments), regs_(regs), memory_(memory) {}

  // Register or memory operand (Immediate and None are InvalidArgument). `extra_displacement` moves a
  // memory operand before the address wraps (BT's bit-string addressing).
  Result<Location> resolve(const Operand& operand, std::int64_t extra_displacement = 0) const;
  // Linear address of `segment`:`offset`, with the offset wrapped to the address size and the segment
  // base applied as the mode requires (64-bit mode: FS and GS only).
  std::uint64_t linear(SegmentRegister segment, std::uint64_t offset) const noexcept;

  Result<std::uint64_t> read(const Location& at);
  Result<void> write(const Location& at, std::uint64_t value);
  // Reads an operand of any kind (an immediate is returned as encoded, zero-extended to its size).
  Result<std::uint64_t> read(const Operand& operand);

  std::uint64_t reg(std::uint8_t index) const noexcept;
  // Writes the low `size` bytes of register `index` with the x86 rules: a 32-bit write zeroes bits
  // 63:32, 8- and 16-bit writes keep the rest.
  void set_reg(std::uint8_t index, std::uint8_t size, std::uint64_t value) noexcept;

  GeneralRegisters& registers() noexcept { return regs_; }
  LinearMemory& memory() noexcept { return memory_; }
  const Instruction& instruction() const noexcept { return insn_; }
  CpuMode mode() const noexcept { return mode_; }

 private:
  const Instruction& insn_;
  CpuMode mode_;
  const SegmentBases& segments_;
  GeneralRegisters& regs_;
  LinearMemory& memory_;
};

}  // namespace hv::x86::detail
