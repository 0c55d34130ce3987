#pragma once
// The x86 instruction decoder behind MMIO emulation (MSHV, like WHP and HVF, reports "this instruction
// touched device memory" and leaves decoding and execution to the VMM). decode() turns instruction bytes
// into an Instruction or an error; it never reads past the span and never accepts more than the
// architectural 15 bytes. hv/x86_emulator.hpp applies an Instruction to registers and memory
// (docs/x86-emulator.md). String instructions carry their implicit operands spelled out: [seg:RSI],
// [ES:RDI] and the accumulator.

#include <array>
#include <cstdint>
#include <span>

#include "hv/error.hpp"

namespace hv::x86 {

enum class CpuMode : std::uint8_t { Real16, Protected32, Long64 };

enum class Mnemonic : std::uint8_t {
  Mov,
  Movzx,
  Movsx,
  Movsxd,
  Movs,
  Stos,
  Lods,
  Cmps,
  Scas,
  Add,
  Or,
  Adc,
  Sbb,
  And,
  Sub,
  Xor,
  Cmp,
  Test,
  Inc,
  Dec,
  Neg,
  Not,
  Xchg,
  Cmpxchg,
  Xadd,
  Bt,
  Bts,
  Btr,
  Btc,
  Setcc,
};
const char* to_string(Mnemonic mnemonic) noexcept;

enum class SegmentRegister : std::uint8_t { Es, Cs, Ss, Ds, Fs, Gs };
enum class RepPrefix : std::uint8_t { None, Rep /*F3: REP / REPE*/, Repne /*F2*/ };

inline constexpr std::uint8_t kNoRegister = 0xff;
inline constexpr std::uint8_t kRipBase = 16;  // MemoryOperand::base for RIP-relative addressing

struct MemoryOperand {
  SegmentRegister segment = SegmentRegister::Ds;  // after overrides and the BP/SP default to SS
  std::uint8_t base = kNoRegister;                // 0..15 (RAX..R15), kRipBase, or kNoRegister
  std::uint8_t index = kNoRegister;               // 0..15 or kNoRegister
  std::uint8_t scale = 1;                         // 1, 2, 4, 8
  std::int64_t displacement = 0;                  // sign-extended; for moffs the full absolute offset
};

struct Operand {
  enum class Kind : std::uint8_t { None, Register, Memory, Immediate };
  Kind kind = Kind::None;
  std::uint8_t size = 0;           // bytes: 1, 2, 4 or 8
  std::uint8_t reg = kNoRegister;  // Register: 0..15
  bool high_byte = false;          // Register: AH, CH, DH or BH (reg 0..3 then names the full register)
  std::uint64_t immediate = 0;     // Immediate: already sign- or zero-extended to `size`
  MemoryOperand memory;            // Memory
};

struct Instruction {
  Mnemonic mnemonic = Mnemonic::Mov;
  std::uint8_t length = 0;        // bytes consumed, prefixes included (1..15)
  std::uint8_t operand_size = 0;  // the operation's width in bytes
  std::uint8_t address_size = 0;  // 2, 4 or 8: for string instructions, RSI/RDI/RCX width
  Operand destination;
  Operand source;
  bool lock = false;
  RepPrefix rep = RepPrefix::None;
  std::uint8_t condition = 0;     // Setcc: the low nibble of 0F 9x
  bool segment_override = false;  // a segment prefix was given (string sources honour it)
  // For RIP-relative operands: the address is RIP + length + displacement.
};

// ProtocolViolation: the guest's bytes are not an instruction the CPU would run (longer than 15 bytes,
// or an encoding it rejects with #UD, e.g. LOCK on a register destination). InvalidArgument: the
// caller's bytes end mid-instruction (or there are none). Unsupported: a valid instruction outside the
// emulated set.
Result<Instruction> decode(std::span<const std::uint8_t> bytes, CpuMode mode);

}  // namespace hv::x86
