#pragma once
// Architectural x86 rules that hvkit's emulator and the backends' own instruction completions (MSHV's
// IN/OUT/INS/OUTS, which the emulator does not decode) must apply the same way: operand widths, the
// register-write rule, the address size a 67h prefix selects, the legacy/REX prefix scan, RIP wrap-
// around, linear addresses (segment base, 4 GiB wrap) and the DF step of a string index. One copy, so the two cannot
// drift apart.

#include <cstdint>
#include <span>

#include "hv/x86_instruction.hpp"

namespace hv::x86 {

inline constexpr std::uint64_t kRflagsDirection = std::uint64_t{1} << 10;  // DF

// The low `bytes` bytes (1, 2, 4; 8 or more: all 64 bits).
constexpr std::uint64_t width_mask(std::uint8_t bytes) noexcept {
  return bytes >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * bytes)) - 1;
}

// The register after writing the low `size` bytes of `value` into `old`: a 32-bit write zero-extends
// into bits 63:32, 8- and 16-bit writes keep the rest (as IN AL/AX does with RAX).
constexpr std::uint64_t write_register(std::uint64_t old, std::uint64_t value, std::uint8_t size) noexcept {
  if (size == 4) return value & 0xffffffffULL;
  return (old & ~width_mask(size)) | (value & width_mask(size));
}

// 2, 4 or 8: the address size (RSI/RDI/RCX width of string instructions) in `mode`, with or without 67h.
constexpr std::uint8_t address_size(CpuMode mode, bool address_override) noexcept {
  switch (mode) {
    case CpuMode::Real16: return address_override ? 4 : 2;
    case CpuMode::Protected32: return address_override ? 2 : 4;
    case CpuMode::Long64: return address_override ? 4 : 8;
  }
  return 8;
}

// RIP after an instruction of `length` bytes at `rip`: IP/EIP wrap outside 64-bit mode.
constexpr std::uint64_t next_instruction_pointer(std::uint64_t rip, std::uint8_t length, CpuMode mode) noexcept {
  const std::uint64_t next = rip + length;
  return mode == CpuMode::Long64 ? next : next & width_mask(mode == CpuMode::Real16 ? 2 : 4);
}

// A linear address outside 64-bit mode has 32 bits: segment base + offset wraps at 4 GiB.
constexpr std::uint64_t wrap_linear(CpuMode mode, std::uint64_t address) noexcept {
  return mode == CpuMode::Long64 ? address : address & 0xffffffffULL;
}

// The linear address of `offset` (an effective address, cut to `address_size` bytes) in `segment`
// with base `segment_base`: in 64-bit mode only FS and GS add their base; outside it the sum wraps.
constexpr std::uint64_t linear_address(CpuMode mode, SegmentRegister segment, std::uint64_t segment_base,
                                       std::uint64_t offset, std::uint8_t address_size) noexcept {
  std::uint64_t address = offset & width_mask(address_size);
  if (mode != CpuMode::Long64 || segment == SegmentRegister::Fs || segment == SegmentRegister::Gs)
    address += segment_base;
  return wrap_linear(mode, address);
}

// A string index register (RSI/RDI) after one element of `element_size` bytes in the direction DF
// gives, within `address_size` (a 16-bit SI wraps inside SI; a 32-bit ESI write clears bits 63:32).
constexpr std::uint64_t step_string_index(std::uint64_t index, std::uint8_t element_size, std::uint8_t address_size,
                                          bool down) noexcept {
  const std::uint64_t step = down ? -std::uint64_t{element_size} : std::uint64_t{element_size};
  return write_register(index, index + step, address_size);
}

// The prefixes in front of an opcode. A later prefix of the same group overrides an earlier one.
struct Prefixes {
  bool operand_size = false;  // 66
  bool address_size = false;  // 67
  bool lock = false;          // F0
  RepPrefix rep = RepPrefix::None;
  bool segment_override = false;
  SegmentRegister segment = SegmentRegister::Ds;
  std::uint8_t rex = 0;     // 0 when absent (64-bit mode only)
  std::uint8_t length = 0;  // bytes the prefixes take; the opcode is bytes[length]
  [[nodiscard]] constexpr bool rex_w() const noexcept { return (rex & 8) != 0; }
  [[nodiscard]] constexpr std::uint8_t rex_r() const noexcept { return (rex & 4) != 0 ? 8 : 0; }
  [[nodiscard]] constexpr std::uint8_t rex_x() const noexcept { return (rex & 2) != 0 ? 8 : 0; }
  [[nodiscard]] constexpr std::uint8_t rex_b() const noexcept { return (rex & 1) != 0 ? 8 : 0; }
};

// Scans the legacy prefixes and, in 64-bit mode, a REX prefix, never past `bytes` nor past 15 bytes. REX counts only
// directly before the opcode: a legacy prefix after it cancels it; a second REX ends the scan (the
// opcode is then that REX, which decode() rejects).
Prefixes scan_prefixes(std::span<const std::uint8_t> bytes, CpuMode mode) noexcept;

}  // namespace hv::x86
