#pragma once
// CPUID results for one VP, registered leaf by leaf with HVCALL_REGISTER_INTERCEPT_RESULT.

#include <cstdint>
#include <span>

#include "hv/hypervisor.hpp"
#include "mshv_calls.hpp"

namespace hv::mshv::detail {

// The input for one leaf. Each mask equals its value, as rust-vmm mshv-ioctls (VcpuFd::set_cpuid2) and
// QEMU (target/i386/mshv register_intercept_result_cpuid_entry) build it: the hypervisor answers
// (its own value & ~mask) | (value & mask), so the VMM sets bits and never clears one the hypervisor sets.
abi::HvInputRegisterInterceptResult cpuid_intercept_result(std::uint32_t vp_index, const CpuidEntry& entry);

Result<void> register_cpuid_results(const MshvFd& vp, std::uint32_t vp_index, std::span<const CpuidEntry> entries);

}  // namespace hv::mshv::detail
