#include "sim_guest_access.hpp"

#include <array>
#include <cstring>
#include <gsl/gsl>

#include "hv/x86_instruction.hpp"
#include "hv/x86_rules.hpp"

namespace hv::mshv::sim {

namespace {

constexpr std::uint64_t kPresent = 1, kWritable = 2, kLargePage = 0x80;
constexpr std::uint64_t kCr0Pg = 1ULL << 31, kCr0Wp = 1ULL << 16, kCr4Pae = 1ULL << 5, kEferLma = 1ULL << 10;
constexpr std::uint64_t kAddressMask = 0x000ffffffffff000ULL;

bool read_entry(const PhysicalReader& read, std::uint64_t gpa, std::size_t size, std::uint64_t& entry) {
  std::uint8_t bytes[8] = {};
  if (!read(gpa, std::span(bytes, size))) return false;
  entry = 0;
  std::memcpy(&entry, bytes, size);
  return true;
}

}  // namespace

TranslateResult translate(const SpecialRegisters& sregs, std::uint64_t linear, bool write, const PhysicalReader& read,
                          std::uint64_t& gpa) {
  if ((sregs.cr0 & kCr0Pg) == 0) {
    gpa = linear & 0xffffffffULL;
    return TranslateResult::Success;
  }
  const bool check_write = write && (sregs.cr0 & kCr0Wp) != 0;
  const auto step = [&](std::uint64_t entry) {
    if ((entry & kPresent) == 0) return TranslateResult::PageNotPresent;
    if (check_write && (entry & kWritable) == 0) return TranslateResult::PrivilegeViolation;
    return TranslateResult::Success;
  };
  if ((sregs.cr4 & kCr4Pae) == 0) {  // 32-bit paging, 4 KiB and 4 MiB pages
    std::uint64_t pde = 0;
    if (!read_entry(read, (sregs.cr3 & 0xfffff000ULL) + ((linear >> 22) & 0x3ff) * 4, 4, pde))
      return TranslateResult::PageNotPresent;
    if (auto r = step(pde); r != TranslateResult::Success) return r;
    if ((pde & kLargePage) != 0) {
      gpa = (pde & 0xffc00000ULL) | (linear & 0x3fffff);
      return TranslateResult::Success;
    }
    std::uint64_t pte = 0;
    if (!read_entry(read, (pde & 0xfffff000ULL) + ((linear >> 12) & 0x3ff) * 4, 4, pte))
      return TranslateResult::PageNotPresent;
    if (auto r = step(pte); r != TranslateResult::Success) return r;
    gpa = (pte & 0xfffff000ULL) | (linear & 0xfff);
    return TranslateResult::Success;
  }
  const bool four_level = (sregs.efer & kEferLma) != 0;
  std::uint64_t table = four_level ? (sregs.cr3 & kAddressMask) : (sregs.cr3 & 0xffffffe0ULL);
  int shift = four_level ? 39 : 30;
  for (int level = four_level ? 4 : 3; level >= 1; --level, shift -= 9) {
    const std::uint64_t index = (linear >> shift) & (level == 3 && !four_level ? 0x3 : 0x1ff);
    std::uint64_t entry = 0;
    if (!read_entry(read, table + index * 8, 8, entry)) return TranslateResult::PageNotPresent;
    if (!four_level && level == 3) {  // PAE PDPTEs have no R/W bit
      if ((entry & kPresent) == 0) return TranslateResult::PageNotPresent;
    } else if (auto r = step(entry); r != TranslateResult::Success) {
      return r;
    }
    if ((level == 2 || level == 3) && (entry & kLargePage) != 0 && (four_level || level == 2)) {
      const std::uint64_t page = std::uint64_t{1} << shift;
      gpa = (entry & kAddressMask & ~(page - 1)) | (linear & (page - 1));
      return TranslateResult::Success;
    }
    table = entry & kAddressMask;
  }
  gpa = table | (linear & 0xfff);
  return TranslateResult::Success;
}

std::size_t fetch_instruction(const SpecialRegisters& sregs, std::uint64_t linear, const PhysicalReader& read,
                              std::span<std::uint8_t, 16> out) {
  std::size_t got = 0;
  while (got < out.size()) {
    std::uint64_t gpa = 0;
    if (translate(sregs, linear + got, false, read, gpa) != TranslateResult::Success) break;
    const std::size_t in_page = 4096 - ((linear + got) & 0xfff);
    const std::size_t n = std::min(in_page, out.size() - got);
    if (!read(gpa, out.subspan(got, n))) break;
    got += n;
  }
  return got;
}

namespace {

x86::CpuMode cpu_mode(const SpecialRegisters& sregs) {
  if ((sregs.efer & kEferLma) != 0 && sregs.cs.l) return x86::CpuMode::Long64;
  if ((sregs.cr0 & 1) != 0 && sregs.cs.db) return x86::CpuMode::Protected32;
  return x86::CpuMode::Real16;
}

std::uint64_t segment_base(const SpecialRegisters& sregs, x86::SegmentRegister segment) {
  const std::array<const Segment*, 6> segments = {&sregs.es, &sregs.cs, &sregs.ss, &sregs.ds, &sregs.fs, &sregs.gs};
  return gsl::at(segments, static_cast<gsl::index>(segment))->base;
}

std::uint64_t gpr(const GeneralRegisters& r, std::uint8_t index) {
  const std::array<std::uint64_t, 16> table = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                                               r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  return index < table.size() ? gsl::at(table, index) : 0;
}

}  // namespace

std::optional<std::uint64_t> intercepted_gva(std::span<const std::uint8_t> bytes, const GeneralRegisters& regs,
                                             const SpecialRegisters& sregs, std::uint64_t gpa,
                                             const PhysicalReader& read) {
  const auto mode = cpu_mode(sregs);
  const auto insn = x86::decode(bytes, mode);
  if (!insn) return std::nullopt;
  for (const x86::Operand* operand : {&insn->source, &insn->destination}) {
    if (operand->kind != x86::Operand::Kind::Memory) continue;
    const x86::MemoryOperand& m = operand->memory;
    auto offset = static_cast<std::uint64_t>(m.displacement);
    if (m.base == x86::kRipBase) {
      offset += x86::next_instruction_pointer(regs.rip, insn->length, mode);
    } else if (m.base != x86::kNoRegister) {
      offset += gpr(regs, m.base);
    }
    if (m.index != x86::kNoRegister) offset += gpr(regs, m.index) * m.scale;
    offset &= x86::width_mask(insn->address_size);
    const bool based =
        mode != x86::CpuMode::Long64 || m.segment == x86::SegmentRegister::Fs || m.segment == x86::SegmentRegister::Gs;
    std::uint64_t linear = offset + (based ? segment_base(sregs, m.segment) : 0);
    if (mode != x86::CpuMode::Long64) linear &= 0xffffffffULL;
    std::uint64_t translated = 0;
    if (translate(sregs, linear, false, read, translated) == TranslateResult::Success && translated == gpa)
      return linear;
  }
  return std::nullopt;
}

IoInstruction decode_io_instruction(std::span<const std::uint8_t> bytes, bool long_mode) {
  IoInstruction io;
  std::size_t i = 0;
  for (; i < bytes.size() && i < 15; ++i) {
    const std::uint8_t b = bytes[i];
    // Operand/address size and segment overrides, and REX in 64-bit mode: skipped.
    const bool other_prefix = b == 0x66 || b == 0x67 || b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 ||
                              b == 0x65 || (long_mode && (b & 0xf0) == 0x40);
    if (b == 0xf3 || b == 0xf2) {
      io.rep = true;
    } else if (!other_prefix) {
      break;
    }
  }
  if (i >= bytes.size()) return {};
  const std::uint8_t op = bytes[i];
  if (op >= 0xe4 && op <= 0xe7) {
    io.length = static_cast<std::uint8_t>(i + 2);
  } else if (op >= 0xec && op <= 0xef) {
    io.length = static_cast<std::uint8_t>(i + 1);
  } else if (op >= 0x6c && op <= 0x6f) {
    io.length = static_cast<std::uint8_t>(i + 1);
    io.string = true;
  } else {
    return {};
  }
  if (!io.string) io.rep = false;
  if (io.length > bytes.size()) return {};
  return io;
}

}  // namespace hv::mshv::sim
