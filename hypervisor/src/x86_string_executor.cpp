#include "x86_string_executor.hpp"

#include <algorithm>

#include "x86_alu.hpp"

namespace hv::x86::detail {

namespace {

constexpr std::uint8_t kRcx = 1;

bool uses_source(Mnemonic m) { return m == Mnemonic::Movs || m == Mnemonic::Lods || m == Mnemonic::Cmps; }
bool uses_destination(Mnemonic m) { return m != Mnemonic::Lods; }

// One element: the accesses of a single MOVS/STOS/LODS/CMPS/SCAS at the current RSI/RDI.
Result<void> element(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  switch (insn.mnemonic) {
    case Mnemonic::Movs:
    case Mnemonic::Stos:
    case Mnemonic::Lods: {
      auto value = a.read(insn.source);
      if (!value) return tl::unexpected(value.error());
      auto to = a.resolve(insn.destination);
      if (!to) return tl::unexpected(to.error());
      return a.write(*to, *value);
    }
    case Mnemonic::Cmps:
    case Mnemonic::Scas: {
      // CMPS compares [RSI] with [RDI]; SCAS the accumulator with [RDI]. Both subtract the second.
      auto first = a.read(insn.mnemonic == Mnemonic::Cmps ? insn.source : insn.destination);
      if (!first) return tl::unexpected(first.error());
      auto second = a.read(insn.mnemonic == Mnemonic::Cmps ? insn.destination : insn.source);
      if (!second) return tl::unexpected(second.error());
      const auto lhs = insn.mnemonic == Mnemonic::Cmps ? *first : *second;
      const auto rhs = insn.mnemonic == Mnemonic::Cmps ? *second : *first;
      GeneralRegisters& regs = a.registers();
      regs.rflags = alu(Mnemonic::Cmp, lhs, rhs, insn.operand_size, regs.rflags).rflags;
      return {};
    }
    default: return fail(ErrorKind::InvalidArgument, "x86::execute", "not a string instruction");
  }
}

// Moves the index registers the element used by one element in the direction DF says, within the
// address size (a 16-bit SI wraps inside SI; a 32-bit ESI write clears bits 63:32).
void advance(OperandAccess& a) {
  const Instruction& insn = a.instruction();
  const bool down = (a.registers().rflags & kDirection) != 0;
  GeneralRegisters& r = a.registers();
  if (uses_source(insn.mnemonic)) r.rsi = step_string_index(r.rsi, insn.operand_size, insn.address_size, down);
  if (uses_destination(insn.mnemonic)) r.rdi = step_string_index(r.rdi, insn.operand_size, insn.address_size, down);
}

}  // namespace

Result<Execution> execute_string(OperandAccess& a, std::uint32_t max_iterations) {
  const Instruction& insn = a.instruction();
  const bool repeated = insn.rep != RepPrefix::None;
  const bool compares = insn.mnemonic == Mnemonic::Cmps || insn.mnemonic == Mnemonic::Scas;
  const std::uint64_t count_mask = width_mask(insn.address_size);
  const std::uint64_t limit = std::max<std::uint32_t>(max_iterations, 1);
  Execution done;
  // A zero count runs no iteration and writes no register, also with 32-bit addressing in 64-bit mode,
  // where Intel CPUs would still clear bits 63:32 of RCX (and of RSI/RDI for MOVS/STOS) and AMD CPUs
  // would not: bits 31:0, the only ones both vendors define, are unchanged either way
  // (docs/x86-emulator.md, "Where Intel and AMD differ").
  for (;;) {
    if (repeated && (a.reg(kRcx) & count_mask) == 0) return done;  // count exhausted (or zero to begin with)
    if (done.iterations == limit) {
      done.complete = false;
      return done;
    }
    if (auto r = element(a); !r) {
      if (done.iterations == 0) return tl::unexpected(r.error());
      done.complete = false;  // the progress so far stands; re-execution reports the error
      return done;
    }
    advance(a);
    ++done.iterations;
    if (!repeated) return done;
    a.set_reg(kRcx, insn.address_size, a.reg(kRcx) - 1);
    if (compares) {
      // REPE stops when an element differs, REPNE when one matches (MOVS/STOS/LODS ignore ZF).
      const bool equal = (a.registers().rflags & kZero) != 0;
      if (insn.rep == RepPrefix::Rep ? !equal : equal) return done;
    }
  }
}

}  // namespace hv::x86::detail
