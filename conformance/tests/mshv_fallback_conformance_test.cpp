// The conformance suite on the MSHV backend's hypercall fallback (docs/mshv.md, "The register page"):
// mshv-sim with the VP register page refused (ENODEV) and with it never valid, so that every register
// access of every case goes through HVCALL_GET/SET_VP_REGISTERS. The default mshv-sim (page valid) runs
// in conformance_tests with the other registered backends.
#include <cctype>
#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hv/conformance/suite.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"

namespace {

bool have_kvm() { return hv::mshv::probe_simulator().available; }

struct FallbackCase {
  bool register_page;
  std::size_t index;
};
class MshvRegisterPageFallback : public ::testing::TestWithParam<FallbackCase> {};

TEST_P(MshvRegisterPageFallback, ConformanceCasePasses) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  const auto& info = hv::conformance::all_cases()[GetParam().index];
  auto sim = hv::mshv::make_simulator({.register_page = GetParam().register_page, .register_page_valid = false});
  ASSERT_TRUE(sim);
  auto hypervisor = hv::mshv::open(*sim, "mshv-sim");
  ASSERT_TRUE(hypervisor);
  const auto result = hv::conformance::run_case(info, **hypervisor);
  if (result.outcome == hv::conformance::Outcome::Unsupported) GTEST_SKIP() << "unsupported: " << result.detail;
  EXPECT_EQ(result.outcome, hv::conformance::Outcome::Pass) << info.description << ": " << result.detail;
}

std::vector<FallbackCase> fallback_cases() {
  std::vector<FallbackCase> cases;
  for (const bool page : {false, true}) {
    for (std::size_t i = 0; i < hv::conformance::all_cases().size(); ++i) cases.push_back({page, i});
  }
  return cases;
}
std::string fallback_name(const ::testing::TestParamInfo<FallbackCase>& info) {
  std::string name = std::string(info.param.register_page ? "InvalidPage_" : "NoPage_") +
                     std::string(hv::conformance::all_cases()[info.param.index].name);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}
INSTANTIATE_TEST_SUITE_P(Suite, MshvRegisterPageFallback, ::testing::ValuesIn(fallback_cases()), fallback_name);

}  // namespace
