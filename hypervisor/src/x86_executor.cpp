#include <string>

#include "hv/x86_emulator.hpp"
#include "x86_alu.hpp"
#include "x86_operand_access.hpp"
#include "x86_string_executor.hpp"

namespace hv::x86 {

namespace {

using detail::Location;
using detail::OperandAccess;

constexpr const char* kOp = "x86::execute";

// Holds LinearMemory's atomic bracket for the lifetime of a locked read-modify-write.
class AtomicScope {
 public:
  AtomicScope(LinearMemory& memory, const Location& at, bool atomic)
      : memory_(atomic && at.in_memory ? &memory : nullptr) {
    if (memory_ != nullptr) memory_->begin_atomic(at.linear, at.size);
  }
  ~AtomicScope() {
    if (memory_ != nullptr) memory_->end_atomic();
  }
  AtomicScope(const AtomicScope&) = delete;
  AtomicScope& operator=(const AtomicScope&) = delete;

 private:
  LinearMemory* memory_;
};

Result<void> move(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto value = a.read(insn.source);
  if (!value) return tl::unexpected(value.error());
  std::uint64_t v = *value;
  const bool sign_extends = insn.mnemonic == Mnemonic::Movsx || insn.mnemonic == Mnemonic::Movsxd ||
                            (insn.mnemonic == Mnemonic::Mov && insn.source.kind == Operand::Kind::Immediate);
  if (sign_extends) v = detail::sign_extend(v, insn.source.size);
  auto to = a.resolve(insn.destination);
  if (!to) return tl::unexpected(to.error());
  return a.write(*to, v);
}

// ADD OR ADC SBB AND SUB XOR CMP TEST (two operands) and INC DEC NEG NOT (one).
Result<void> arithmetic(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  const Mnemonic m = insn.mnemonic;
  const bool unary = m == Mnemonic::Inc || m == Mnemonic::Dec || m == Mnemonic::Neg || m == Mnemonic::Not;
  const bool writes = m != Mnemonic::Cmp && m != Mnemonic::Test;
  auto to = a.resolve(insn.destination);
  if (!to) return tl::unexpected(to.error());
  AtomicScope atomic(a.memory(), *to, insn.lock);
  auto lhs = a.read(*to);
  if (!lhs) return tl::unexpected(lhs.error());
  std::uint64_t rhs = 0;
  if (!unary) {
    auto r = a.read(insn.source);
    if (!r) return tl::unexpected(r.error());
    rhs = detail::sign_extend(*r, insn.source.size);  // an imm8 of an /r form widens to the operation's size
  }
  GeneralRegisters& regs = a.registers();
  const auto result = detail::alu(m, *lhs, rhs, to->size, regs.rflags);
  if (writes) {
    if (auto w = a.write(*to, result.value); !w) return w;
  }
  regs.rflags = result.rflags;
  return {};
}

// XCHG, CMPXCHG and XADD: both operands resolved, then read destination first (the order of the
// bus cycles on hardware). The atomic bracket is the caller's, opened before these reads.
struct TwoOperands {
  Location destination, source;
  std::uint64_t destination_value = 0, source_value = 0;
};
Result<TwoOperands> resolve_two(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto to = a.resolve(insn.destination);
  if (!to) return tl::unexpected(to.error());
  auto from = a.resolve(insn.source);
  if (!from) return tl::unexpected(from.error());
  return TwoOperands{*to, *from};
}
Result<void> read_two(OperandAccess& a, TwoOperands& ops) {
  auto d = a.read(ops.destination);
  if (!d) return tl::unexpected(d.error());
  auto s = a.read(ops.source);
  if (!s) return tl::unexpected(s.error());
  ops.destination_value = *d;
  ops.source_value = *s;
  return {};
}

Result<void> exchange(OperandAccess& a) {
  auto ops = resolve_two(a);
  if (!ops) return tl::unexpected(ops.error());
  AtomicScope atomic(a.memory(), ops->destination, true);  // XCHG with memory is locked whether or not LOCK is given
  if (auto r = read_two(a, *ops); !r) return r;
  if (auto w = a.write(ops->destination, ops->source_value); !w) return w;
  return a.write(ops->source, ops->destination_value);
}

Result<void> compare_exchange(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto ops = resolve_two(a);
  if (!ops) return tl::unexpected(ops.error());
  const Location* to = &ops->destination;
  AtomicScope atomic(a.memory(), *to, insn.lock);
  if (auto r = read_two(a, *ops); !r) return r;
  const std::uint64_t* current = &ops->destination_value;
  const std::uint64_t* replacement = &ops->source_value;
  const Location accumulator{.reg = 0, .size = to->size};
  auto expected = a.read(accumulator);
  if (!expected) return tl::unexpected(expected.error());
  GeneralRegisters& regs = a.registers();
  const auto compared = detail::alu(Mnemonic::Cmp, *expected, *current, to->size, regs.rflags);
  const bool equal = (compared.rflags & detail::kZero) != 0;
  // On a mismatch the CPU writes a memory destination back with its old value, so a device sees the
  // bus cycles it would see from hardware; a register destination is left alone (the host CPU keeps
  // bits 63:32 of a 32-bit one, which a write-back would clear).
  if (equal || to->in_memory) {
    if (auto w = a.write(*to, equal ? *replacement : *current); !w) return w;
  }
  if (!equal) {
    if (auto w = a.write(accumulator, *current); !w) return w;
  }
  regs.rflags = compared.rflags;
  return {};
}

Result<void> exchange_add(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto ops = resolve_two(a);
  if (!ops) return tl::unexpected(ops.error());
  const Location* to = &ops->destination;
  const Location* from = &ops->source;
  AtomicScope atomic(a.memory(), *to, insn.lock);
  if (auto r = read_two(a, *ops); !r) return r;
  const std::uint64_t* destination = &ops->destination_value;
  const std::uint64_t* source = &ops->source_value;
  GeneralRegisters& regs = a.registers();
  const auto sum = detail::alu(Mnemonic::Add, *destination, *source, to->size, regs.rflags);
  // SRC <- DEST, then DEST <- SUM: with the same register as both, the sum wins, as on hardware. The
  // memory write goes first so a failing device write leaves the register copy unused.
  if (to->in_memory) {
    if (auto w = a.write(*to, sum.value); !w) return w;
    if (auto w = a.write(*from, *destination); !w) return w;
  } else {
    if (auto w = a.write(*from, *destination); !w) return w;
    if (auto w = a.write(*to, sum.value); !w) return w;
  }
  regs.rflags = sum.rflags;
  return {};
}

// BT BTS BTR BTC. A register bit offset into memory is signed and may select a bit outside the
// addressed operand (a bit string): the access moves by whole operands, as on hardware.
Result<void> bit_test(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto offset_value = a.read(insn.source);
  if (!offset_value) return tl::unexpected(offset_value.error());
  const std::uint8_t size = insn.destination.size;
  const std::uint64_t bits = 8ULL * size;
  std::uint64_t bit = *offset_value & (bits - 1);
  std::int64_t displacement = 0;
  if (insn.destination.kind == Operand::Kind::Memory && insn.source.kind == Operand::Kind::Register) {
    // Arithmetic shift: floor division by the operand width in bits, for negative offsets too.
    const auto offset = static_cast<std::int64_t>(detail::sign_extend(*offset_value, insn.source.size));
    displacement = (offset >> (size == 2 ? 4 : size == 4 ? 5 : 6)) * size;
  }
  auto to = a.resolve(insn.destination, displacement);
  if (!to) return tl::unexpected(to.error());
  AtomicScope atomic(a.memory(), *to, insn.lock);
  auto value = a.read(*to);
  if (!value) return tl::unexpected(value.error());
  const std::uint64_t mask = std::uint64_t{1} << bit;
  const bool was_set = (*value & mask) != 0;
  std::uint64_t next = *value;
  switch (insn.mnemonic) {
    case Mnemonic::Bts: next |= mask; break;
    case Mnemonic::Btr: next &= ~mask; break;
    case Mnemonic::Btc: next ^= mask; break;
    default: break;
  }
  if (insn.mnemonic != Mnemonic::Bt) {
    if (auto w = a.write(*to, next); !w) return w;
  }
  GeneralRegisters& regs = a.registers();
  regs.rflags = (regs.rflags & ~detail::kCarry) | (was_set ? detail::kCarry : 0);
  return {};
}

Result<void> set_on_condition(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  auto to = a.resolve(insn.destination);
  if (!to) return tl::unexpected(to.error());
  return a.write(*to, detail::condition_holds(insn.condition, a.registers().rflags) ? 1 : 0);
}

Result<Execution> dispatch(OperandAccess& a, ExecutionLimits limits) {
  const Instruction& insn = a.instruction();
  Result<void> done;
  switch (insn.mnemonic) {
    case Mnemonic::Mov:
    case Mnemonic::Movzx:
    case Mnemonic::Movsx:
    case Mnemonic::Movsxd: done = move(a); break;
    case Mnemonic::Movs:
    case Mnemonic::Stos:
    case Mnemonic::Lods:
    case Mnemonic::Cmps:
    case Mnemonic::Scas: return detail::execute_string(a, limits.max_string_iterations);
    case Mnemonic::Add:
    case Mnemonic::Or:
    case Mnemonic::Adc:
    case Mnemonic::Sbb:
    case Mnemonic::And:
    case Mnemonic::Sub:
    case Mnemonic::Xor:
    case Mnemonic::Cmp:
    case Mnemonic::Test:
    case Mnemonic::Inc:
    case Mnemonic::Dec:
    case Mnemonic::Neg:
    case Mnemonic::Not: done = arithmetic(a); break;
    case Mnemonic::Xchg: done = exchange(a); break;
    case Mnemonic::Cmpxchg: done = compare_exchange(a); break;
    case Mnemonic::Xadd: done = exchange_add(a); break;
    case Mnemonic::Bt:
    case Mnemonic::Bts:
    case Mnemonic::Btr:
    case Mnemonic::Btc: done = bit_test(a); break;
    case Mnemonic::Setcc: done = set_on_condition(a); break;
    default: return fail(ErrorKind::Unsupported, kOp, std::string(to_string(insn.mnemonic)) + " is not executed");
  }
  if (!done) return tl::unexpected(done.error());
  return Execution{};
}

}  // namespace

Result<Execution> execute(const Instruction& insn, CpuMode mode, const SegmentBases& segments, GeneralRegisters& regs,
                          LinearMemory& memory, ExecutionLimits limits) {
  GeneralRegisters out = regs;  // work on a copy: an error leaves the caller's registers untouched
  OperandAccess access(insn, mode, segments, out, memory);
  auto result = dispatch(access, limits);
  if (!result) return result;
  if (result->complete) {
    out.rip = next_instruction_pointer(out.rip, insn.length, mode);
  }
  regs = out;
  return result;
}

}  // namespace hv::x86
