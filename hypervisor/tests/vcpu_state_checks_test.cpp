// The checks backends make on snapshot state before their kernel sees it (hv/vcpu_state_checks.hpp).
#include <array>

#include <gtest/gtest.h>

#include "hv/vcpu_state_checks.hpp"

namespace {

using hv::ErrorKind;

bool refused(const hv::Result<void>& r) { return !r && r.error().kind() == ErrorKind::InvalidArgument; }

TEST(VcpuStateChecks, ExceptionVectorsAndErrorCodes) {
  hv::VcpuEvents e;
  e.exception = {.injected = true, .vector = 13, .has_error_code = true, .error_code = 0};
  EXPECT_TRUE(hv::check_vcpu_events(e, "t"));
  e.exception = {.injected = true, .vector = 32};
  EXPECT_TRUE(refused(hv::check_vcpu_events(e, "t")));
  e.exception = {.injected = true, .vector = 2};  // NMI is nmi_injected
  EXPECT_TRUE(refused(hv::check_vcpu_events(e, "t")));
  e.exception = {.injected = true, .vector = 6, .has_error_code = true};  // #UD pushes none
  EXPECT_TRUE(refused(hv::check_vcpu_events(e, "t")));
  e.exception = {.injected = false, .vector = 200};  // not injected: not looked at
  EXPECT_TRUE(hv::check_vcpu_events(e, "t"));
}

TEST(VcpuStateChecks, DebugRegisterHighHalvesAreReserved) {
  hv::DebugRegisters d;
  EXPECT_TRUE(hv::check_debug_registers(d, "t"));
  d.dr6 = 1ULL << 32;
  EXPECT_TRUE(refused(hv::check_debug_registers(d, "t")));
  d = {};
  d.dr7 = 1ULL << 63;
  EXPECT_TRUE(refused(hv::check_debug_registers(d, "t")));
}

TEST(VcpuStateChecks, Xcr0FollowsXsetbvRulesAndCpuidLeafD) {
  EXPECT_TRUE(hv::check_xcr0(0x1, {}, "t"));
  EXPECT_TRUE(refused(hv::check_xcr0(0x0, {}, "t")));   // no x87
  EXPECT_TRUE(refused(hv::check_xcr0(0x5, {}, "t")));   // AVX without SSE
  EXPECT_TRUE(refused(hv::check_xcr0(0x0f, {}, "t")));  // BNDREGS without BNDCSR
  EXPECT_TRUE(refused(hv::check_xcr0(0x27, {}, "t")));  // part of AVX-512
  EXPECT_TRUE(hv::check_xcr0(0xe7, {}, "t"));
  const std::array<hv::CpuidEntry, 1> leaf_d = {
      hv::CpuidEntry{.function = 0xd, .index = 0, .index_significant = true, .eax = 0x3}};
  EXPECT_TRUE(hv::check_xcr0(0x3, leaf_d, "t"));
  EXPECT_TRUE(refused(hv::check_xcr0(0x7, leaf_d, "t")));  // AVX not offered
}

}  // namespace
