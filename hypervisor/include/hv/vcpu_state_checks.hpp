#pragma once
// The checks every backend makes on vCPU state before handing it to its kernel, so that a value the
// kernel would refuse with a bare EINVAL (or worse, accept and fail at the next VM entry) comes back
// as InvalidArgument naming the field, the same on every backend. For backends.

#include <cstdint>
#include <span>
#include <string_view>

#include "hv/error.hpp"
#include "hv/x86_registers.hpp"

namespace hv {

// "runnable", "halted", ...: for messages.
std::string_view to_string(MpState state) noexcept;

// Exception vector 0-31 and not 2 (NMI); an error code only on a vector that pushes one.
Result<void> check_vcpu_events(const VcpuEvents& events, std::string_view operation);
// DR6 and DR7 bits 63:32 are reserved and must be zero (Intel SDM vol. 3 §18.2; KVM refuses them).
Result<void> check_debug_registers(const DebugRegisters& debug, std::string_view operation);
// XCR0 as XSETBV would accept it (Intel SDM vol. 1 §13.3): x87 (bit 0) set, AVX (2) only with SSE (1),
// MPX BNDREGS (3) and BNDCSR (4) together, AVX-512 (5-7) all or none and only with AVX; and, when
// `cpuid` has leaf 0xD subleaf 0, a subset of the features it reports in EDX:EAX.
Result<void> check_xcr0(std::uint64_t xcr0, std::span<const CpuidEntry> cpuid, std::string_view operation);

}  // namespace hv
