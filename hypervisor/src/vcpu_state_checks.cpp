#include "hv/vcpu_state_checks.hpp"

#include <string>

namespace hv {

namespace {
constexpr std::uint8_t kNmiVector = 2;
constexpr std::uint8_t kExceptionVectors = 32;

// #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX (Intel SDM vol. 3 table 6-1; AMD APM vol. 2 §8.2).
constexpr bool pushes_error_code(std::uint8_t vector) noexcept {
  switch (vector) {
    case 8:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 17:
    case 21:
    case 29:
    case 30: return true;
    default: return false;
  }
}

constexpr std::uint64_t kXcr0X87 = 1U << 0, kXcr0Sse = 1U << 1, kXcr0Avx = 1U << 2;
constexpr std::uint64_t kXcr0Mpx = (1U << 3) | (1U << 4);
constexpr std::uint64_t kXcr0Avx512 = (1U << 5) | (1U << 6) | (1U << 7);
}  // namespace

std::string_view to_string(MpState state) noexcept {
  switch (state) {
    case MpState::Runnable: return "runnable";
    case MpState::Uninitialized: return "uninitialized";
    case MpState::InitReceived: return "init_received";
    case MpState::Halted: return "halted";
    case MpState::SipiReceived: return "sipi_received";
  }
  return "unknown";
}

Result<void> check_vcpu_events(const VcpuEvents& events, std::string_view operation) {
  const auto& e = events.exception;
  if (!e.injected) return {};
  if (e.vector >= kExceptionVectors || e.vector == kNmiVector) {
    return fail(
        ErrorKind::InvalidArgument, operation,
        "exception vector " + std::to_string(e.vector) + " is not an exception (0-31, and NMI is nmi_injected)");
  }
  if (e.has_error_code && !pushes_error_code(e.vector)) {
    return fail(ErrorKind::InvalidArgument, operation,
                "exception vector " + std::to_string(e.vector) + " does not push an error code");
  }
  return {};
}

Result<void> check_debug_registers(const DebugRegisters& debug, std::string_view operation) {
  if ((debug.dr6 >> 32) != 0) {
    return fail(ErrorKind::InvalidArgument, operation, "DR6 " + hex(debug.dr6) + " sets reserved bits 63:32");
  }
  if ((debug.dr7 >> 32) != 0) {
    return fail(ErrorKind::InvalidArgument, operation, "DR7 " + hex(debug.dr7) + " sets reserved bits 63:32");
  }
  return {};
}

Result<void> check_xcr0(std::uint64_t xcr0, std::span<const CpuidEntry> cpuid, std::string_view operation) {
  const auto refuse = [&](std::string_view why) {
    return fail(ErrorKind::InvalidArgument, operation, "XCR0 " + hex(xcr0) + ": " + std::string(why));
  };
  if ((xcr0 & kXcr0X87) == 0) return refuse("bit 0 (x87) must be set");
  if ((xcr0 & kXcr0Avx) != 0 && (xcr0 & kXcr0Sse) == 0) return refuse("AVX (bit 2) needs SSE (bit 1)");
  if ((xcr0 & kXcr0Mpx) != 0 && (xcr0 & kXcr0Mpx) != kXcr0Mpx) return refuse("MPX bits 3 and 4 go together");
  if ((xcr0 & kXcr0Avx512) != 0 && ((xcr0 & kXcr0Avx512) != kXcr0Avx512 || (xcr0 & kXcr0Avx) == 0)) {
    return refuse("AVX-512 bits 5-7 go together, and with AVX");
  }
  for (const auto& leaf : cpuid) {
    if (leaf.function != 0xd || leaf.index != 0) continue;
    const std::uint64_t allowed = (std::uint64_t{leaf.edx} << 32) | leaf.eax | kXcr0X87;
    if ((xcr0 & ~allowed) != 0) {
      return refuse("sets features " + hex(xcr0 & ~allowed) + " that CPUID leaf 0xD (" + hex(allowed) +
                    ") does not offer the guest");
    }
    return {};
  }
  return {};
}

}  // namespace hv
