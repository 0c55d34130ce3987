#include <array>
#include <string>
#include <string_view>

#include <gsl/gsl>

#include "hv/x86_instruction.hpp"
#include "hv/x86_rules.hpp"

namespace hv::x86 {

const char* to_string(Mnemonic m) noexcept {
  static constexpr std::array<const char*, 30> kNames = {
      "mov", "movzx", "movsx", "movsxd",  "movs", "stos", "lods", "cmps", "scas", "add",
      "or",  "adc",   "sbb",   "and",     "sub",  "xor",  "cmp",  "test", "inc",  "dec",
      "neg", "not",   "xchg",  "cmpxchg", "xadd", "bt",   "bts",  "btr",  "btc",  "setcc"};
  const auto i = static_cast<std::size_t>(m);
  return i < kNames.size() ? gsl::at(kNames, static_cast<gsl::index>(i)) : "?";
}

namespace {

constexpr std::size_t kMaxLength = 15;
constexpr const char* kOp = "x86::decode";

// The bytes of one instruction, read strictly within the span and the 15-byte limit.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) noexcept
      : bytes_(bytes.first(std::min(bytes.size(), kMaxLength))) {}
  [[nodiscard]] bool ok() const noexcept { return !overrun_; }
  [[nodiscard]] bool hit_limit() const noexcept { return overrun_ && truncated_at_limit_; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  [[nodiscard]] std::span<const std::uint8_t> rest() const noexcept { return bytes_.subspan(pos_); }
  std::uint8_t peek() noexcept { return pos_ < bytes_.size() ? bytes_[pos_] : fail_byte(); }
  std::uint8_t byte() noexcept {
    const std::uint8_t b = peek();
    if (!overrun_) ++pos_;
    return b;
  }
  // Little-endian, `n` bytes, sign-extended from 8*n bits when `sign` is set.
  std::uint64_t value(std::size_t n, bool sign) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{byte()} << (8 * i);
    if (sign && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~std::uint64_t{0} << (8 * n);
    return v;
  }

 private:
  std::uint8_t fail_byte() noexcept {
    overrun_ = true;
    truncated_at_limit_ = bytes_.size() == kMaxLength;
    return 0;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool overrun_ = false;
  bool truncated_at_limit_ = false;
};

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> bytes, CpuMode mode) noexcept : in_(bytes), mode_(mode) {}
  Result<Instruction> run();

 private:
  void read_prefixes();
  Result<void> modrm(std::uint8_t size, Operand& rm_operand, std::uint8_t& reg_field);
  Result<void> memory_operand(std::uint8_t mod, std::uint8_t rm, Operand& out);
  Operand register_operand(std::uint8_t index, std::uint8_t size) const noexcept;
  Operand immediate(std::uint8_t encoded_bytes, std::uint8_t size, bool sign) noexcept;
  Result<Instruction> finish();
  Result<Instruction> one_byte(std::uint8_t op);
  Result<Instruction> two_byte(std::uint8_t op);
  Result<Instruction> string_op(Mnemonic m, std::uint8_t op);
  Result<Instruction> unsupported(std::uint8_t op, bool two_byte = false) const;

  [[nodiscard]] std::uint8_t full_size() const noexcept {  // operand size of a non-byte instruction
    if (mode_ == CpuMode::Long64 && p_.rex_w()) return 8;
    const bool wide = mode_ != CpuMode::Real16;
    return (wide != p_.operand_size) ? 4 : 2;
  }
  [[nodiscard]] std::uint8_t address_size() const noexcept { return x86::address_size(mode_, p_.address_size); }

  Reader in_;
  CpuMode mode_;
  Prefixes p_;
  Instruction insn_;
};

void Decoder::read_prefixes() {
  p_ = scan_prefixes(in_.rest(), mode_);
  for (std::uint8_t i = 0; i < p_.length; ++i) in_.byte();
}

Operand Decoder::register_operand(std::uint8_t index, std::uint8_t size) const noexcept {
  Operand o;
  o.kind = Operand::Kind::Register;
  o.size = size;
  // Without any REX prefix, byte registers 4..7 are AH, CH, DH, BH.
  if (size == 1 && p_.rex == 0 && index >= 4 && index <= 7) {
    o.reg = static_cast<std::uint8_t>(index - 4);
    o.high_byte = true;
  } else {
    o.reg = index;
  }
  return o;
}

Operand Decoder::immediate(std::uint8_t encoded_bytes, std::uint8_t size, bool sign) noexcept {
  Operand o;
  o.kind = Operand::Kind::Immediate;
  o.size = size;
  std::uint64_t v = in_.value(encoded_bytes, sign);
  if (size < 8) v &= (std::uint64_t{1} << (8 * size)) - 1;
  o.immediate = v;
  return o;
}

Result<void> Decoder::memory_operand(std::uint8_t mod, std::uint8_t rm, Operand& out) {
  MemoryOperand m;
  const std::uint8_t asize = address_size();
  bool stack_default = false;
  if (asize == 2) {
    static constexpr std::array<std::uint8_t, 8> kBase16 = {3,           3, 5, 5, kNoRegister,
                                                            kNoRegister, 5, 3};  // BX, BX, BP, BP, -, -, BP, BX
    static constexpr std::array<std::uint8_t, 8> kIndex16 = {6, 7, 6,           7,
                                                             6, 7, kNoRegister, kNoRegister};  // SI, DI, SI, DI, SI, DI
    if (mod == 0 && rm == 6) {
      m.displacement = static_cast<std::int64_t>(in_.value(2, false));  // disp16, no base
    } else {
      m.base = gsl::at(kBase16, rm & 7);
      m.index = gsl::at(kIndex16, rm & 7);
      stack_default = m.base == 5;
      if (mod == 1) m.displacement = static_cast<std::int64_t>(in_.value(1, true));
      if (mod == 2) m.displacement = static_cast<std::int64_t>(in_.value(2, true));
    }
  } else {
    std::uint8_t base = static_cast<std::uint8_t>(rm | p_.rex_b());
    if (rm == 4) {
      const std::uint8_t sib = in_.byte();
      m.scale = static_cast<std::uint8_t>(1U << (sib >> 6));
      const std::uint8_t index = static_cast<std::uint8_t>(((sib >> 3) & 7) | p_.rex_x());
      m.index = index == 4 ? kNoRegister : index;  // RSP cannot be an index
      base = static_cast<std::uint8_t>((sib & 7) | p_.rex_b());
      if ((sib & 7) == 5 && mod == 0) {
        base = kNoRegister;
        m.displacement = static_cast<std::int64_t>(in_.value(4, true));
      }
    } else if (rm == 5 && mod == 0) {
      base = mode_ == CpuMode::Long64 && asize != 2 ? kRipBase : kNoRegister;
      m.displacement = static_cast<std::int64_t>(in_.value(4, true));
      if (base == kNoRegister && asize == 4) m.displacement &= 0xffffffff;
    }
    m.base = base;
    stack_default = base == 4 || base == 5;  // RSP or RBP (not R12/R13) default to SS
    if (mod == 1) m.displacement = static_cast<std::int64_t>(in_.value(1, true));
    if (mod == 2) m.displacement = static_cast<std::int64_t>(in_.value(4, true));
  }
  m.segment = p_.segment_override ? p_.segment : (stack_default ? SegmentRegister::Ss : SegmentRegister::Ds);
  out.kind = Operand::Kind::Memory;
  out.memory = m;
  return {};
}

Result<void> Decoder::modrm(std::uint8_t size, Operand& rm_operand, std::uint8_t& reg_field) {
  const std::uint8_t b = in_.byte();
  const std::uint8_t mod = b >> 6;
  const std::uint8_t rm = b & 7;
  reg_field = static_cast<std::uint8_t>(((b >> 3) & 7) | p_.rex_r());
  if (mod == 3) {
    rm_operand = register_operand(static_cast<std::uint8_t>(rm | p_.rex_b()), size);
    return {};
  }
  rm_operand.size = size;
  return memory_operand(mod, rm, rm_operand);
}

Result<Instruction> Decoder::unsupported(std::uint8_t op, bool two_byte) const {
  constexpr std::string_view kDigits = "0123456789abcdef";
  const std::string opcode{kDigits[op >> 4], kDigits[op & 0xf]};
  return fail(ErrorKind::Unsupported, kOp,
              std::string("opcode ") + (two_byte ? "0f " : "") + opcode + " is not emulated");
}

Result<Instruction> Decoder::string_op(Mnemonic m, std::uint8_t op) {
  insn_.mnemonic = m;
  const std::uint8_t size = (op & 1) == 0 ? 1 : full_size();
  insn_.operand_size = size;
  // The implicit operands, spelled out: [seg:RSI] (DS unless overridden), [ES:RDI] (never
  // overridable), and the accumulator. The executor wraps RSI/RDI to the address size.
  Operand source_string;
  source_string.kind = Operand::Kind::Memory;
  source_string.size = size;
  source_string.memory.base = 6;
  source_string.memory.segment = p_.segment_override ? p_.segment : SegmentRegister::Ds;
  Operand destination_string = source_string;
  destination_string.memory.base = 7;
  destination_string.memory.segment = SegmentRegister::Es;
  const Operand accumulator = register_operand(0, size);
  switch (m) {
    case Mnemonic::Movs:
    case Mnemonic::Cmps:
      insn_.destination = destination_string;
      insn_.source = source_string;
      break;
    case Mnemonic::Stos:
    case Mnemonic::Scas:
      insn_.destination = destination_string;
      insn_.source = accumulator;
      break;
    default:
      insn_.destination = accumulator;
      insn_.source = source_string;
      break;  // LODS
  }
  return finish();
}

Result<Instruction> Decoder::one_byte(std::uint8_t op) {
  static constexpr std::array<Mnemonic, 8> kAlu = {Mnemonic::Add, Mnemonic::Or,  Mnemonic::Adc, Mnemonic::Sbb,
                                                   Mnemonic::And, Mnemonic::Sub, Mnemonic::Xor, Mnemonic::Cmp};
  std::uint8_t reg = 0;
  Operand rm;
  // 00..3F: the eight ALU families, forms 0..5.
  if (op < 0x40 && (op & 7) < 6) {
    insn_.mnemonic = gsl::at(kAlu, op >> 3);
    const std::uint8_t size = (op & 1) == 0 ? 1 : full_size();
    insn_.operand_size = size;
    switch (op & 7) {
      case 0:
      case 1:
      case 2:
      case 3: {
        if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
        const Operand r_op = register_operand(reg, size);
        const bool to_rm = (op & 2) == 0;
        insn_.destination = to_rm ? rm : r_op;
        insn_.source = to_rm ? r_op : rm;
        return finish();
      }
      default:  // AL/eAX, imm
        insn_.destination = register_operand(0, size);
        insn_.source = immediate(size == 8 ? 4 : size, size, true);
        return finish();
    }
  }
  switch (op) {
    case 0x63:
      if (mode_ != CpuMode::Long64) return unsupported(op);  // ARPL outside 64-bit mode
      insn_.mnemonic = Mnemonic::Movsxd;
      insn_.operand_size = full_size();
      if (auto r = modrm(4, rm, reg); !r) return tl::unexpected(r.error());
      insn_.destination = register_operand(reg, insn_.operand_size);
      insn_.source = rm;
      return finish();
    case 0x80:
    case 0x81:
    case 0x83: {
      const std::uint8_t size = op == 0x80 ? 1 : full_size();
      insn_.operand_size = size;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      insn_.mnemonic = gsl::at(kAlu, reg & 7);
      insn_.destination = rm;
      insn_.source = immediate(op == 0x81 ? (size == 8 ? 4 : size) : 1, size, true);
      return finish();
    }
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x88:
    case 0x89:
    case 0x8a:
    case 0x8b: {
      const std::uint8_t size = (op & 1) == 0 ? 1 : full_size();
      insn_.operand_size = size;
      insn_.mnemonic = op <= 0x85 ? Mnemonic::Test : op <= 0x87 ? Mnemonic::Xchg : Mnemonic::Mov;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      const Operand r_op = register_operand(reg, size);
      const bool to_reg = op == 0x8a || op == 0x8b;
      insn_.destination = to_reg ? r_op : rm;
      insn_.source = to_reg ? rm : r_op;
      return finish();
    }
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {  // MOV AL/eAX <-> moffs
      const std::uint8_t size = (op & 1) == 0 ? 1 : full_size();
      insn_.mnemonic = Mnemonic::Mov;
      insn_.operand_size = size;
      Operand mem;
      mem.kind = Operand::Kind::Memory;
      mem.size = size;
      mem.memory.segment = p_.segment_override ? p_.segment : SegmentRegister::Ds;
      mem.memory.displacement = static_cast<std::int64_t>(in_.value(address_size(), false));
      const Operand acc = register_operand(0, size);
      insn_.destination = op <= 0xa1 ? acc : mem;
      insn_.source = op <= 0xa1 ? mem : acc;
      return finish();
    }
    case 0xa4:
    case 0xa5: return string_op(Mnemonic::Movs, op);
    case 0xa6:
    case 0xa7: return string_op(Mnemonic::Cmps, op);
    case 0xa8:
    case 0xa9: {
      const std::uint8_t size = op == 0xa8 ? 1 : full_size();
      insn_.mnemonic = Mnemonic::Test;
      insn_.operand_size = size;
      insn_.destination = register_operand(0, size);
      insn_.source = immediate(size == 8 ? 4 : size, size, true);
      return finish();
    }
    case 0xaa:
    case 0xab: return string_op(Mnemonic::Stos, op);
    case 0xac:
    case 0xad: return string_op(Mnemonic::Lods, op);
    case 0xae:
    case 0xaf: return string_op(Mnemonic::Scas, op);
    case 0xc6:
    case 0xc7: {
      const std::uint8_t size = op == 0xc6 ? 1 : full_size();
      insn_.operand_size = size;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      if ((reg & 7) != 0) return unsupported(op);  // C6/C7 /7 is XBEGIN/XABORT
      insn_.mnemonic = Mnemonic::Mov;
      insn_.destination = rm;
      insn_.source = immediate(size == 8 ? 4 : size, size, true);
      return finish();
    }
    case 0xf6:
    case 0xf7: {
      const std::uint8_t size = op == 0xf6 ? 1 : full_size();
      insn_.operand_size = size;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      insn_.destination = rm;
      switch (reg & 7) {
        case 0:
        case 1:
          insn_.mnemonic = Mnemonic::Test;
          insn_.source = immediate(size == 8 ? 4 : size, size, true);
          return finish();
        case 2: insn_.mnemonic = Mnemonic::Not; return finish();
        case 3: insn_.mnemonic = Mnemonic::Neg; return finish();
        default: return unsupported(op);  // MUL, IMUL, DIV, IDIV
      }
    }
    case 0xfe:
    case 0xff: {
      const std::uint8_t size = op == 0xfe ? 1 : full_size();
      insn_.operand_size = size;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      if ((reg & 7) > 1) return unsupported(op);  // CALL, JMP, PUSH
      insn_.mnemonic = (reg & 7) == 0 ? Mnemonic::Inc : Mnemonic::Dec;
      insn_.destination = rm;
      return finish();
    }
    default: return unsupported(op);
  }
}

Result<Instruction> Decoder::two_byte(std::uint8_t op) {
  std::uint8_t reg = 0;
  Operand rm;
  if (op >= 0x90 && op <= 0x9f) {
    insn_.mnemonic = Mnemonic::Setcc;
    insn_.condition = op & 0x0f;
    insn_.operand_size = 1;
    if (auto r = modrm(1, rm, reg); !r) return tl::unexpected(r.error());
    insn_.destination = rm;
    return finish();
  }
  switch (op) {
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb: {
      insn_.mnemonic = op == 0xa3   ? Mnemonic::Bt
                       : op == 0xab ? Mnemonic::Bts
                       : op == 0xb3 ? Mnemonic::Btr
                                    : Mnemonic::Btc;
      insn_.operand_size = full_size();
      if (auto r = modrm(insn_.operand_size, rm, reg); !r) return tl::unexpected(r.error());
      insn_.destination = rm;
      insn_.source = register_operand(reg, insn_.operand_size);
      return finish();
    }
    case 0xba: {
      insn_.operand_size = full_size();
      if (auto r = modrm(insn_.operand_size, rm, reg); !r) return tl::unexpected(r.error());
      static constexpr std::array<Mnemonic, 4> kBt = {Mnemonic::Bt, Mnemonic::Bts, Mnemonic::Btr, Mnemonic::Btc};
      if ((reg & 7) < 4) return fail(ErrorKind::ProtocolViolation, kOp, "0f ba /0-/3 is undefined");
      insn_.mnemonic = gsl::at(kBt, (reg & 7) - 4);
      insn_.destination = rm;
      insn_.source = immediate(1, 1, false);
      return finish();
    }
    case 0xb0:
    case 0xb1:
    case 0xc0:
    case 0xc1: {
      const std::uint8_t size = (op & 1) == 0 ? 1 : full_size();
      insn_.mnemonic = op <= 0xb1 ? Mnemonic::Cmpxchg : Mnemonic::Xadd;
      insn_.operand_size = size;
      if (auto r = modrm(size, rm, reg); !r) return tl::unexpected(r.error());
      insn_.destination = rm;
      insn_.source = register_operand(reg, size);
      return finish();
    }
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
      insn_.mnemonic = op <= 0xb7 ? Mnemonic::Movzx : Mnemonic::Movsx;
      insn_.operand_size = full_size();
      const std::uint8_t source_size = (op & 1) == 0 ? 1 : 2;
      if (auto r = modrm(source_size, rm, reg); !r) return tl::unexpected(r.error());
      insn_.destination = register_operand(reg, insn_.operand_size);
      insn_.source = rm;
      return finish();
    }
    default: return unsupported(op, true);
  }
}

Result<Instruction> Decoder::finish() {
  // Longer than the CPU allows is the guest's (#GP); bytes that end early are the caller's.
  if (!in_.ok()) {
    if (in_.hit_limit()) return fail(ErrorKind::ProtocolViolation, kOp, "instruction longer than 15 bytes");
    return fail(ErrorKind::InvalidArgument, kOp, "instruction bytes end mid-instruction");
  }
  // LOCK is legal only on a read-modify-write instruction whose destination is memory (else #UD).
  if (p_.lock) {
    const auto m = insn_.mnemonic;
    const bool lockable = m == Mnemonic::Add || m == Mnemonic::Or || m == Mnemonic::Adc || m == Mnemonic::Sbb ||
                          m == Mnemonic::And || m == Mnemonic::Sub || m == Mnemonic::Xor || m == Mnemonic::Inc ||
                          m == Mnemonic::Dec || m == Mnemonic::Neg || m == Mnemonic::Not || m == Mnemonic::Xchg ||
                          m == Mnemonic::Cmpxchg || m == Mnemonic::Xadd || m == Mnemonic::Bts || m == Mnemonic::Btr ||
                          m == Mnemonic::Btc;
    if (!lockable || insn_.destination.kind != Operand::Kind::Memory) {
      return fail(ErrorKind::ProtocolViolation, kOp,
                  std::string("LOCK ") + to_string(m) + " without a memory destination is #UD");
    }
  }
  insn_.length = static_cast<std::uint8_t>(in_.position());
  insn_.address_size = address_size();
  insn_.lock = p_.lock;
  insn_.rep = p_.rep;
  insn_.segment_override = p_.segment_override;
  return insn_;
}

Result<Instruction> Decoder::run() {
  read_prefixes();
  const std::uint8_t op = in_.byte();
  if (!in_.ok()) return finish();
  if (op == 0x0f) {
    const std::uint8_t op2 = in_.byte();
    if (!in_.ok()) return finish();
    return two_byte(op2);
  }
  return one_byte(op);
}

}  // namespace

Result<Instruction> decode(std::span<const std::uint8_t> bytes, CpuMode mode) {
  if (bytes.empty()) return fail(ErrorKind::InvalidArgument, kOp, "no instruction bytes");
  return Decoder(bytes, mode).run();
}

}  // namespace hv::x86
