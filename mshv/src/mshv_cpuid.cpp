// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "mshv_cpuid.hpp"

#include <cstring>

namespace hv::mshv::detail {

abi::HvInputRegisterInterceptResult cpuid_intercept_result(std::uint32_t vp_index, const CpuidEntry& entry) {
  abi::HvInputRegisterInterceptResult in{};
  in.vp_index = vp_index;
  in.intercept_type = abi::kInterceptTypeX64Cpuid;
  auto& p = in.parameters;
  p.input_eax = entry.function;
  p.input_ecx = entry.index;
  p.subleaf_specific = entry.index_significant ? 1 : 0;
  p.always_override = 1;
  p.eax = p.eax_mask = entry.eax;
  p.ebx = p.ebx_mask = entry.ebx;
  p.ecx = p.ecx_mask = entry.ecx;
  p.edx = p.edx_mask = entry.edx;
  return in;
}

// [§6]
Result<void> register_cpuid_results(const MshvFd& vp, std::uint32_t vp_index, std::span<const CpuidEntry> entries) {
  for (const auto& e : entries) {
    const auto in = cpuid_intercept_result(vp_index, e);
    std::uint8_t bytes[sizeof in];
    std::memcpy(bytes, &in, sizeof in);
    auto r = hypercall(vp, abi::kHvcallRegisterInterceptResult, 0, bytes, {}, "HVCALL_REGISTER_INTERCEPT_RESULT");
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

}  // namespace hv::mshv::detail
