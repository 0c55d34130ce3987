#include "hv/x86_rules.hpp"

#include <algorithm>

namespace hv::x86 {

namespace {

bool is_legacy_prefix(std::uint8_t b) noexcept {
  switch (b) {
    case 0x66:
    case 0x67:
    case 0xf0:
    case 0xf2:
    case 0xf3:
    case 0x26:
    case 0x2e:
    case 0x36:
    case 0x3e:
    case 0x64:
    case 0x65: return true;
    default: return false;
  }
}

void apply_legacy(std::uint8_t b, Prefixes& p) noexcept {
  const auto segment = [&p](SegmentRegister s) {
    p.segment = s;
    p.segment_override = true;
  };
  switch (b) {
    case 0x66: p.operand_size = true; break;
    case 0x67: p.address_size = true; break;
    case 0xf0: p.lock = true; break;
    case 0xf2: p.rep = RepPrefix::Repne; break;
    case 0xf3: p.rep = RepPrefix::Rep; break;
    case 0x26: segment(SegmentRegister::Es); break;
    case 0x2e: segment(SegmentRegister::Cs); break;
    case 0x36: segment(SegmentRegister::Ss); break;
    case 0x3e: segment(SegmentRegister::Ds); break;
    case 0x64: segment(SegmentRegister::Fs); break;
    case 0x65: segment(SegmentRegister::Gs); break;
    default: break;
  }
}

}  // namespace

Prefixes scan_prefixes(std::span<const std::uint8_t> all, CpuMode mode) noexcept {
  constexpr std::size_t kMaxInstruction = 15;  // no instruction, prefixes included, is longer
  const auto bytes = all.first(std::min(all.size(), kMaxInstruction));
  Prefixes p;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::uint8_t b = bytes[at];
    if (is_legacy_prefix(b)) {
      apply_legacy(b, p);
      p.rex = 0;  // a REX before a legacy prefix does not count
      ++at;
      continue;
    }
    if (mode == CpuMode::Long64 && (b & 0xf0) == 0x40) {
      p.rex = b;
      ++at;
      // Only a legacy prefix after it continues the scan (and cancels it, above).
      if (at < bytes.size() && is_legacy_prefix(bytes[at])) continue;
    }
    break;
  }
  p.length = static_cast<std::uint8_t>(at);
  return p;
}

}  // namespace hv::x86
