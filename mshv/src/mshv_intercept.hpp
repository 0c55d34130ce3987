#pragma once
// What every intercept handler of the backend reads from a message's intercept header [docs/mshv-abi.md
// §9.3]. Only mshv/src includes this.

#include "hv/x86_instruction.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv::detail {

// The operation named in errors from run().
inline constexpr const char* kRun = "Vcpu::run";

// The CPU mode from the execution state bits and CS.L/CS.D.
inline x86::CpuMode cpu_mode(const abi::HvInterceptHeader& h) noexcept {
  const bool long_mode = (h.execution_state & abi::kExecStateEferLma) != 0;
  const bool cs_l = (h.cs.attributes & (1U << 13)) != 0;
  const bool cs_d = (h.cs.attributes & (1U << 14)) != 0;
  if (long_mode && cs_l) return x86::CpuMode::Long64;
  if ((h.execution_state & abi::kExecStateCr0Pe) != 0 && cs_d) return x86::CpuMode::Protected32;
  return x86::CpuMode::Real16;
}

}  // namespace hv::mshv::detail
