// Registers one GoogleTest per (backend, case). Unsupported cases are reported as skipped with the
// reason; a backend that is unavailable on this host is one skipped test naming why.
#include <gtest/gtest.h>

#include "hv/backend_registry.hpp"
#include "hv/builtin_backends.hpp"
#include "hv/conformance/suite.hpp"

namespace {

class CaseTest : public ::testing::Test {
 public:
  CaseTest(std::string backend, const hv::conformance::CaseInfo* info) : backend_(std::move(backend)), info_(info) {}
  void TestBody() override {
    auto hypervisor = hv::open_hypervisor(backend_);
    ASSERT_TRUE(hypervisor) << hypervisor.error().to_string();
    const auto result = hv::conformance::run_case(*info_, **hypervisor);
    if (result.outcome == hv::conformance::Outcome::Unsupported) GTEST_SKIP() << "unsupported: " << result.detail;
    EXPECT_EQ(result.outcome, hv::conformance::Outcome::Pass) << info_->description << ": " << result.detail;
  }

 private:
  std::string backend_;
  const hv::conformance::CaseInfo* info_;
};

class Unavailable : public ::testing::Test {
 public:
  explicit Unavailable(std::string reason) : reason_(std::move(reason)) {}
  void TestBody() override { GTEST_SKIP() << reason_; }

 private:
  std::string reason_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  hv::register_builtin_backends();
  for (const auto& backend : hv::list_backends()) {
    // GoogleTest filters read '-' as "exclude": a suite named after "mshv-sim" would match nothing
    // under CTest's per-test filter and pass without running. Backend names become identifiers.
    std::string suite = "Conformance_" + backend.name;
    for (char& c : suite) {
      if (c == '-') c = '_';
    }
    if (!backend.availability.available) {
      const std::string reason = backend.name + " unavailable: " + backend.availability.reason;
      ::testing::RegisterTest(suite.c_str(), "BackendUnavailable", nullptr, nullptr, __FILE__, __LINE__,
                              [reason]() -> ::testing::Test* { return new Unavailable(reason); });
      continue;
    }
    for (const auto& info : hv::conformance::all_cases()) {
      const std::string name(info.name);
      const std::string backend_name = backend.name;
      ::testing::RegisterTest(
          suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
          [backend_name, &info]() -> ::testing::Test* { return new CaseTest(backend_name, &info); });
    }
  }
  return RUN_ALL_TESTS();
}
