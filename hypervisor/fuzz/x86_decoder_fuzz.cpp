// decode() and execute() on arbitrary bytes and register values in every mode: no crash, no read past
// the input (ASan), whatever decode accepts is self-consistent, and execution touches memory only
// through the callback, within the access sizes it announced, with balanced atomic brackets and work
// bounded by ExecutionLimits.
#include <algorithm>
#include <array>
#include <cstring>

#include "fuzz_input.hpp"
#include "hv/x86_emulator.hpp"
#include "hv/x86_instruction.hpp"

namespace {
void check_operand(const hv::x86::Operand& o) {
  using Kind = hv::x86::Operand::Kind;
  if (o.kind == Kind::Register && o.reg > 15) __builtin_trap();
  if (o.kind == Kind::Memory) {
    const auto& m = o.memory;
    if ((m.base > 16 && m.base != hv::x86::kNoRegister) || (m.index > 15 && m.index != hv::x86::kNoRegister))
      __builtin_trap();
    if (m.scale != 1 && m.scale != 2 && m.scale != 4 && m.scale != 8) __builtin_trap();
  }
}
// A 4 KiB window at a fuzzer-chosen linear address; anything else faults.
class WindowMemory final : public hv::x86::LinearMemory {
 public:
  explicit WindowMemory(std::uint64_t base) : base_(base) {}
  hv::Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override {
    if (!check(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "read", "fault");
    std::memcpy(data.data(), bytes_.data() + (linear - base_), data.size());
    return {};
  }
  hv::Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override {
    if (!check(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "write", "fault");
    std::memcpy(bytes_.data() + (linear - base_), data.data(), data.size());
    return {};
  }
  void begin_atomic(std::uint64_t, std::uint8_t size) override {
    if (atomic_ || (size != 1 && size != 2 && size != 4 && size != 8)) __builtin_trap();  // no nesting
    atomic_ = true;
  }
  void end_atomic() noexcept override {
    if (!atomic_) __builtin_trap();  // every end has a begin
    atomic_ = false;
  }
  bool in_atomic() const { return atomic_; }

 private:
  bool check(std::uint64_t a, std::size_t n) const {
    if (n == 0 || n > 8) __builtin_trap();  // accesses are 1..8 bytes
    return a >= base_ && a - base_ <= bytes_.size() - n;
  }
  std::uint64_t base_;
  std::array<std::uint8_t, 4096> bytes_{};
  bool atomic_ = false;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto mode = static_cast<hv::x86::CpuMode>(data[0] % 3);
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  auto insn = hv::x86::decode(bytes, mode);
  if (!insn) return 0;
  if (insn->length == 0 || insn->length > 15 || insn->length > bytes.size()) __builtin_trap();
  if (insn->operand_size != 1 && insn->operand_size != 2 && insn->operand_size != 4 && insn->operand_size != 8)
    __builtin_trap();
  check_operand(insn->destination);
  check_operand(insn->source);
  // Decoding is a function of the consumed bytes only.
  auto again = hv::x86::decode(bytes.first(insn->length), mode);
  if (!again || again->length != insn->length) __builtin_trap();
  // Execute with registers taken from the bytes after the instruction.
  hvfuzz::FuzzInput in(bytes.data() + insn->length, bytes.size() - insn->length);
  hv::GeneralRegisters regs;
  for (auto* r : {&regs.rax, &regs.rbx, &regs.rcx, &regs.rdx, &regs.rsi, &regs.rdi, &regs.rbp, &regs.r8, &regs.r12,
                  &regs.r13, &regs.rip}) {
    *r = in.take<std::uint64_t>();
  }
  WindowMemory memory(in.take<std::uint64_t>() & ~std::uint64_t{0xfff});
  hv::x86::SegmentBases bases{};
  const hv::x86::ExecutionLimits limits{static_cast<std::uint32_t>(in.take<std::uint8_t>())};
  const auto before = regs;
  auto done = hv::x86::execute(*insn, mode, bases, regs, memory, limits);
  if (!done && !(regs == before)) __builtin_trap();  // errors change nothing
  if (memory.in_atomic()) __builtin_trap();          // the atomic bracket is always closed
  // Work per call is bounded by the limit (at least one element), and only an unfinished REP keeps RIP.
  if (done && done->iterations > std::max<std::uint32_t>(limits.max_string_iterations, 1)) __builtin_trap();
  if (done && !done->complete && (insn->rep == hv::x86::RepPrefix::None || regs.rip != before.rip)) __builtin_trap();
  return 0;
}
