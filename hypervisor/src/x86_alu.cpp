#include "x86_alu.hpp"

namespace hv::x86::detail {

namespace {

// ZF, SF and PF of a result (PF: even parity of the low byte).
std::uint64_t zero_sign_parity(std::uint64_t r, std::uint8_t size) noexcept {
  std::uint64_t f = 0;
  if ((r & width_mask(size)) == 0) f |= kZero;
  if (((r >> (8 * size - 1)) & 1) != 0) f |= kSign;
  if (__builtin_parityll(r & 0xff) == 0) f |= kParity;
  return f;
}

std::uint64_t top_bit(std::uint64_t v, std::uint8_t size) noexcept { return (v >> (8 * size - 1)) & 1; }

// a + b + carry_in, all flags.
AluResult add(std::uint64_t a, std::uint64_t b, std::uint64_t carry_in, std::uint8_t size,
              std::uint64_t rflags) noexcept {
  const std::uint64_t m = width_mask(size);
  a &= m;
  b &= m;
  const std::uint64_t r = (a + b + carry_in) & m;
  std::uint64_t f = zero_sign_parity(r, size);
  if (carry_in != 0 ? r <= a : r < a) f |= kCarry;
  if (top_bit((a ^ r) & (b ^ r), size) != 0) f |= kOverflow;
  if (((a ^ b ^ r) & 0x10) != 0) f |= kAdjust;
  return {r, (rflags & ~kStatusFlags) | f};
}

// a - b - borrow_in, all flags.
AluResult subtract(std::uint64_t a, std::uint64_t b, std::uint64_t borrow_in, std::uint8_t size,
                   std::uint64_t rflags) noexcept {
  const std::uint64_t m = width_mask(size);
  a &= m;
  b &= m;
  const std::uint64_t r = (a - b - borrow_in) & m;
  std::uint64_t f = zero_sign_parity(r, size);
  if (borrow_in != 0 ? a <= b : a < b) f |= kCarry;
  if (top_bit((a ^ b) & (a ^ r), size) != 0) f |= kOverflow;
  if (((a ^ b ^ r) & 0x10) != 0) f |= kAdjust;
  return {r, (rflags & ~kStatusFlags) | f};
}

// AND, OR, XOR, TEST: CF and OF cleared; AF is architecturally undefined and cleared, as the host does.
AluResult logical(std::uint64_t r, std::uint8_t size, std::uint64_t rflags) noexcept {
  r &= width_mask(size);
  return {r, (rflags & ~kStatusFlags) | zero_sign_parity(r, size)};
}

AluResult keep_carry(AluResult r, std::uint64_t rflags) noexcept {
  r.rflags = (r.rflags & ~kCarry) | (rflags & kCarry);
  return r;
}

}  // namespace

AluResult alu(Mnemonic op, std::uint64_t a, std::uint64_t b, std::uint8_t size, std::uint64_t rflags) noexcept {
  const std::uint64_t carry = rflags & kCarry;
  switch (op) {
    case Mnemonic::Add: return add(a, b, 0, size, rflags);
    case Mnemonic::Adc: return add(a, b, carry, size, rflags);
    case Mnemonic::Sub:
    case Mnemonic::Cmp: return subtract(a, b, 0, size, rflags);
    case Mnemonic::Sbb: return subtract(a, b, carry, size, rflags);
    case Mnemonic::And:
    case Mnemonic::Test: return logical(a & b, size, rflags);
    case Mnemonic::Or: return logical(a | b, size, rflags);
    case Mnemonic::Xor: return logical(a ^ b, size, rflags);
    case Mnemonic::Inc: return keep_carry(add(a, 1, 0, size, rflags), rflags);
    case Mnemonic::Dec: return keep_carry(subtract(a, 1, 0, size, rflags), rflags);
    case Mnemonic::Neg: return subtract(0, a, 0, size, rflags);
    case Mnemonic::Not: return {~a & width_mask(size), rflags};
    default: return {a & width_mask(size), rflags};  // not an ALU mnemonic: callers never pass one
  }
}

bool condition_holds(std::uint8_t cc, std::uint64_t rflags) noexcept {
  const bool cf = (rflags & kCarry) != 0;
  const bool zf = (rflags & kZero) != 0;
  const bool sf = (rflags & kSign) != 0;
  const bool of = (rflags & kOverflow) != 0;
  const bool pf = (rflags & kParity) != 0;
  bool holds = false;
  switch ((cc >> 1) & 7) {                    // even codes test the condition, odd ones its negation
    case 0: holds = of; break;                // O
    case 1: holds = cf; break;                // B / C
    case 2: holds = zf; break;                // E / Z
    case 3: holds = cf || zf; break;          // BE
    case 4: holds = sf; break;                // S
    case 5: holds = pf; break;                // P
    case 6: holds = sf != of; break;          // L
    case 7: holds = zf || (sf != of); break;  // LE
  }
  return (cc & 1) != 0 ? !holds : holds;
}

}  // namespace hv::x86::detail
