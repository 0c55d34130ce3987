#include <array>
#include <cstring>

#include "hv/x86_emulator.hpp"

namespace hv::x86 {

namespace {

constexpr const char* kOp = "x86::execute";

// Register `index` in x86 numbering (RAX RCX RDX RBX RSP RBP RSI RDI R8..R15); const follows `r`.
template <class Registers>
auto* gpr(Registers& r, std::uint8_t index) noexcept {
  decltype(&r.rax) const table[16] = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                                      &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return index < 16 ? table[index] : nullptr;
}

std::uint64_t mask(std::uint8_t size) noexcept { return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1; }

std::uint64_t sign_extend(std::uint64_t v, std::uint8_t from) noexcept {
  if (from >= 8) return v;
  const std::uint64_t sign = std::uint64_t{1} << (8 * from - 1);
  v &= mask(from);
  return (v ^ sign) - sign;
}

Result<std::uint64_t> read_register(GeneralRegisters& regs, const Operand& o) {
  std::uint64_t* r = gpr(regs, o.reg);
  if (r == nullptr) return fail(ErrorKind::InvalidArgument, kOp, "register operand out of range");
  if (o.high_byte) return (*r >> 8) & 0xff;
  return *r & mask(o.size);
}

// x86 register write rules: 32-bit writes zero the upper half; 8- and 16-bit writes keep the rest.
void write_register(GeneralRegisters& regs, const Operand& o, std::uint64_t value) {
  std::uint64_t* r = gpr(regs, o.reg);
  if (o.high_byte) {
    *r = (*r & ~std::uint64_t{0xff00}) | ((value & 0xff) << 8);
  } else if (o.size == 4) {
    *r = value & 0xffffffff;
  } else {
    *r = (*r & ~mask(o.size)) | (value & mask(o.size));
  }
}

Result<std::uint64_t> linear_address(const Instruction& insn, const Operand& o, CpuMode mode, const SegmentBases& segments,
                                     const GeneralRegisters& regs) {
  const auto& m = o.memory;
  std::uint64_t address = static_cast<std::uint64_t>(m.displacement);
  if (m.base == kRipBase) {
    address += regs.rip + insn.length;
  } else if (m.base != kNoRegister) {
    if (gpr(regs, m.base) == nullptr) return fail(ErrorKind::InvalidArgument, kOp, "base register out of range");
    address += *gpr(regs, m.base);
  }
  if (m.index != kNoRegister) {
    if (gpr(regs, m.index) == nullptr) return fail(ErrorKind::InvalidArgument, kOp, "index register out of range");
    address += *gpr(regs, m.index) * m.scale;
  }
  address &= mask(insn.address_size);
  const auto seg = static_cast<std::size_t>(m.segment);
  if (mode != CpuMode::Long64 || m.segment == SegmentRegister::Fs || m.segment == SegmentRegister::Gs) {
    address += segments.at(seg);
  }
  if (mode != CpuMode::Long64) address &= 0xffffffff;
  return address;
}

Result<std::uint64_t> read_operand(const Instruction& insn, const Operand& o, CpuMode mode, const SegmentBases& segments,
                                   GeneralRegisters& regs, LinearMemory& memory) {
  switch (o.kind) {
    case Operand::Kind::Register: return read_register(regs, o);
    case Operand::Kind::Immediate: return o.immediate & mask(o.size);
    case Operand::Kind::Memory: {
      auto address = linear_address(insn, o, mode, segments, regs);
      if (!address) return tl::unexpected(address.error());
      std::array<std::uint8_t, 8> bytes{};
      if (auto r = memory.read(*address, std::span(bytes).first(o.size)); !r) return tl::unexpected(r.error());
      std::uint64_t v = 0;
      std::memcpy(&v, bytes.data(), o.size);
      return v;
    }
    case Operand::Kind::None: break;
  }
  return fail(ErrorKind::InvalidArgument, kOp, "missing operand");
}

Result<void> write_operand(const Instruction& insn, const Operand& o, CpuMode mode, const SegmentBases& segments,
                           GeneralRegisters& regs, LinearMemory& memory, std::uint64_t value) {
  if (o.kind == Operand::Kind::Register) {
    if (gpr(regs, o.reg) == nullptr) return fail(ErrorKind::InvalidArgument, kOp, "register operand out of range");
    write_register(regs, o, value);
    return {};
  }
  if (o.kind != Operand::Kind::Memory) return fail(ErrorKind::InvalidArgument, kOp, "destination is not writable");
  auto address = linear_address(insn, o, mode, segments, regs);
  if (!address) return tl::unexpected(address.error());
  std::array<std::uint8_t, 8> bytes{};
  std::memcpy(bytes.data(), &value, sizeof value);
  return memory.write(*address, std::span<const std::uint8_t>(bytes).first(o.size));
}

}  // namespace

Result<void> execute(const Instruction& insn, CpuMode mode, const SegmentBases& segments, GeneralRegisters& regs,
                     LinearMemory& memory) {
  GeneralRegisters out = regs;  // work on a copy: an error leaves the caller's registers untouched
  switch (insn.mnemonic) {
    case Mnemonic::Mov:
    case Mnemonic::Movzx:
    case Mnemonic::Movsx:
    case Mnemonic::Movsxd: {
      auto value = read_operand(insn, insn.source, mode, segments, out, memory);
      if (!value) return tl::unexpected(value.error());
      std::uint64_t v = *value;
      if (insn.mnemonic == Mnemonic::Movsx || insn.mnemonic == Mnemonic::Movsxd) v = sign_extend(v, insn.source.size);
      if (insn.mnemonic == Mnemonic::Mov && insn.source.kind == Operand::Kind::Immediate) v = sign_extend(v, insn.source.size);
      if (auto r = write_operand(insn, insn.destination, mode, segments, out, memory, v); !r) return r;
      break;
    }
    default:
      return fail(ErrorKind::Unsupported, kOp, std::string(to_string(insn.mnemonic)) + " is decoded but not executed yet");
  }
  out.rip = (mode == CpuMode::Long64) ? out.rip + insn.length : ((out.rip + insn.length) & mask(mode == CpuMode::Real16 ? 2 : 4));
  regs = out;
  return {};
}

}  // namespace hv::x86
