// decode() on arbitrary bytes in every mode: no crash, no read past the input (ASan), and whatever
// it accepts is self-consistent.
#include "fuzz_input.hpp"
#include "hv/x86_instruction.hpp"

namespace {
void check_operand(const hv::x86::Operand& o) {
  using Kind = hv::x86::Operand::Kind;
  if (o.kind == Kind::Register && o.reg > 15) __builtin_trap();
  if (o.kind == Kind::Memory) {
    const auto& m = o.memory;
    if ((m.base > 16 && m.base != hv::x86::kNoRegister) || (m.index > 15 && m.index != hv::x86::kNoRegister)) __builtin_trap();
    if (m.scale != 1 && m.scale != 2 && m.scale != 4 && m.scale != 8) __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto mode = static_cast<hv::x86::CpuMode>(data[0] % 3);
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  auto insn = hv::x86::decode(bytes, mode);
  if (!insn) return 0;
  if (insn->length == 0 || insn->length > 15 || insn->length > bytes.size()) __builtin_trap();
  if (insn->operand_size != 1 && insn->operand_size != 2 && insn->operand_size != 4 && insn->operand_size != 8) __builtin_trap();
  check_operand(insn->destination);
  check_operand(insn->source);
  // Decoding is a function of the consumed bytes only.
  auto again = hv::x86::decode(bytes.first(insn->length), mode);
  if (!again || again->length != insn->length) __builtin_trap();
  return 0;
}
