#pragma once
// Arithmetic and flag rules of the emulated x86 instructions, as pure functions (internal to the
// executor). Each result's flags are the architectural ones, checked against the host CPU by
// hypervisor/tests/x86_executor_test.cpp.

#include <cstdint>

#include "hv/x86_instruction.hpp"
#include "hv/x86_rules.hpp"

namespace hv::x86::detail {

inline constexpr std::uint64_t kCarry = 1U << 0;
inline constexpr std::uint64_t kParity = 1U << 2;
inline constexpr std::uint64_t kAdjust = 1U << 4;
inline constexpr std::uint64_t kZero = 1U << 6;
inline constexpr std::uint64_t kSign = 1U << 7;
inline constexpr std::uint64_t kDirection = kRflagsDirection;
inline constexpr std::uint64_t kOverflow = 1U << 11;
inline constexpr std::uint64_t kStatusFlags = kCarry | kParity | kAdjust | kZero | kSign | kOverflow;

using x86::width_mask;  // hv/x86_rules.hpp

constexpr std::uint64_t sign_extend(std::uint64_t v, std::uint8_t from) noexcept {
  if (from >= 8) return v;
  const std::uint64_t sign = std::uint64_t{1} << (8 * from - 1);
  v &= width_mask(from);
  return (v ^ sign) - sign;
}

// The value and the new RFLAGS of a two-operand ALU operation (ADD OR ADC SBB AND SUB XOR CMP TEST)
// or a one-operand one (INC DEC NEG NOT; `b` ignored). `size` is 1, 2, 4 or 8 bytes; the inputs are
// taken modulo that width. Flags an instruction leaves alone keep their value from `rflags`.
struct AluResult {
  std::uint64_t value;
  std::uint64_t rflags;
};
AluResult alu(Mnemonic op, std::uint64_t a, std::uint64_t b, std::uint8_t size, std::uint64_t rflags) noexcept;

// Whether condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc) holds for `rflags`.
bool condition_holds(std::uint8_t cc, std::uint64_t rflags) noexcept;

}  // namespace hv::x86::detail
