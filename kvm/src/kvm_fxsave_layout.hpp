#pragma once
// The legacy FXSAVE region at the start of an XSAVE area (Intel SDM vol. 1, 10.5.1 and 13.4), and the
// XSAVE header. hvkit reads and writes FPU state here rather than with KVM_GET_FPU/KVM_SET_FPU: on the
// hosts hvkit was developed on, KVM_GET_FPU reported MXCSR 0 while the XSAVE area held 0x1f80, and
// KVM_SET_FPU left XSTATE_BV clear, so values could be taken as "init state" by the next XRSTOR.

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "hv/x86_registers.hpp"

namespace hv::kvm::detail::fxsave {

inline constexpr std::size_t kFcw = 0, kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsr = 24;
inline constexpr std::size_t kSt = 32, kXmm = 160, kXstateBv = 512;
inline constexpr std::uint64_t kX87Bit = 1, kSseBit = 2;
inline constexpr std::size_t kMinimumSize = 576;  // legacy region + XSAVE header

template <class T>
T load(std::span<const std::uint8_t> area, std::size_t offset) noexcept {
  T v;
  std::memcpy(&v, area.data() + offset, sizeof v);
  return v;
}

template <class T>
void store(std::span<std::uint8_t> area, std::size_t offset, T v) noexcept {
  std::memcpy(area.data() + offset, &v, sizeof v);
}

// Components whose XSTATE_BV bit is clear are in their architectural init state.
inline FpuState read(std::span<const std::uint8_t> area) noexcept {
  FpuState f;  // defaults are the init state: FCW 0x37f, MXCSR 0x1f80, everything else zero
  const auto present = load<std::uint64_t>(area, kXstateBv);
  if (present & kX87Bit) {
    f.fcw = load<std::uint16_t>(area, kFcw);
    f.fsw = load<std::uint16_t>(area, kFsw);
    f.ftwx = load<std::uint8_t>(area, kFtw);
    f.last_opcode = load<std::uint16_t>(area, kFop);
    f.last_ip = load<std::uint64_t>(area, kFip);
    f.last_dp = load<std::uint64_t>(area, kFdp);
    std::memcpy(f.fpr.data(), area.data() + kSt, sizeof f.fpr);
  }
  if (present & kSseBit) std::memcpy(f.xmm.data(), area.data() + kXmm, sizeof f.xmm);
  f.mxcsr = load<std::uint32_t>(area, kMxcsr);  // XRSTOR loads MXCSR whether or not SSE is in init state
  return f;
}

inline void write(std::span<std::uint8_t> area, const FpuState& f) noexcept {
  store(area, kFcw, f.fcw);
  store(area, kFsw, f.fsw);
  store(area, kFtw, f.ftwx);
  store(area, kFop, f.last_opcode);
  store(area, kFip, f.last_ip);
  store(area, kFdp, f.last_dp);
  store(area, kMxcsr, f.mxcsr);
  std::memcpy(area.data() + kSt, f.fpr.data(), sizeof f.fpr);
  std::memcpy(area.data() + kXmm, f.xmm.data(), sizeof f.xmm);
  store(area, kXstateBv, load<std::uint64_t>(area, kXstateBv) | kX87Bit | kSseBit);
}

}  // namespace hv::kvm::detail::fxsave
