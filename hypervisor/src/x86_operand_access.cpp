#include "x86_operand_access.hpp"

#include <array>
#include <cstring>

#include <gsl/gsl>

#include "x86_alu.hpp"

namespace hv::x86::detail {

namespace {

constexpr const char* kOp = "x86::execute";

// Register `index` in x86 numbering (RAX RCX RDX RBX RSP RBP RSI RDI R8..R15); const follows `r`.
template <class Registers>
auto* gpr(Registers& r, std::uint8_t index) noexcept {
  const std::array<decltype(&r.rax), 16> table = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                                                  &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return index < table.size() ? gsl::at(table, index) : nullptr;
}

}  // namespace

std::uint64_t OperandAccess::reg(std::uint8_t index) const noexcept {
  const auto* r = gpr(regs_, index);
  return r != nullptr ? *r : 0;
}

void OperandAccess::set_reg(std::uint8_t index, std::uint8_t size, std::uint64_t value) noexcept {
  std::uint64_t* r = gpr(regs_, index);
  if (r == nullptr) return;
  *r = write_register(*r, value, size);
}

std::uint64_t OperandAccess::linear(SegmentRegister segment, std::uint64_t offset) const noexcept {
  return linear_address(mode_, segment, segments_[static_cast<std::size_t>(segment)], offset, insn_.address_size);
}

Result<Location> OperandAccess::resolve(const Operand& o, std::int64_t extra_displacement) const {
  Location at;
  at.size = o.size;
  if (o.size != 1 && o.size != 2 && o.size != 4 && o.size != 8)
    return fail(ErrorKind::InvalidArgument, kOp, "operand size");
  if (o.kind == Operand::Kind::Register) {
    if (o.reg > 15 || (o.high_byte && o.reg > 3))
      return fail(ErrorKind::InvalidArgument, kOp, "register operand out of range");
    at.reg = o.reg;
    at.high_byte = o.high_byte;
    return at;
  }
  if (o.kind != Operand::Kind::Memory)
    return fail(ErrorKind::InvalidArgument, kOp, "operand is not a register or memory");
  const auto& m = o.memory;
  std::uint64_t offset = static_cast<std::uint64_t>(m.displacement) + static_cast<std::uint64_t>(extra_displacement);
  if (m.base == kRipBase) {
    offset += regs_.rip + insn_.length;
  } else if (m.base != kNoRegister) {
    if (m.base > 15) return fail(ErrorKind::InvalidArgument, kOp, "base register out of range");
    offset += reg(m.base);
  }
  if (m.index != kNoRegister) {
    if (m.index > 15) return fail(ErrorKind::InvalidArgument, kOp, "index register out of range");
    offset += reg(m.index) * m.scale;
  }
  at.in_memory = true;
  at.linear = linear(m.segment, offset);
  return at;
}

Result<std::uint64_t> OperandAccess::read(const Location& at) {
  if (!at.in_memory) {
    const std::uint64_t full = reg(at.reg);
    return at.high_byte ? (full >> 8) & 0xff : full & width_mask(at.size);
  }
  std::array<std::uint8_t, 8> bytes{};
  if (auto r = memory_.read(at.linear, std::span(bytes).first(at.size)); !r) return tl::unexpected(r.error());
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data(), at.size);  // x86 is little-endian, and so is every host hvkit runs on
  return v;
}

Result<void> OperandAccess::write(const Location& at, std::uint64_t value) {
  if (!at.in_memory) {
    if (at.high_byte) {
      std::uint64_t* r = gpr(regs_, at.reg);
      *r = (*r & ~std::uint64_t{0xff00}) | ((value & 0xff) << 8);
    } else {
      set_reg(at.reg, at.size, value);
    }
    return {};
  }
  std::array<std::uint8_t, 8> bytes{};
  std::memcpy(bytes.data(), &value, sizeof value);
  return memory_.write(at.linear, std::span<const std::uint8_t>(bytes).first(at.size));
}

Result<std::uint64_t> OperandAccess::read(const Operand& o) {
  if (o.kind == Operand::Kind::Immediate) return o.immediate & width_mask(o.size);
  auto at = resolve(o);
  if (!at) return tl::unexpected(at.error());
  return read(*at);
}

}  // namespace hv::x86::detail
