// The suite must detect a wrong backend: the cases that exercise a fault fail under it, and the
// same cases pass on the real backend it wraps (so the failure is the fault, not the case).
#include <gtest/gtest.h>

#include "faulty_backend.hpp"
#include "hv/conformance/suite.hpp"
#include "hv/kvm/kvm.hpp"

namespace {

using hv::conformance::Outcome;

const hv::conformance::CaseInfo& find_case(std::string_view name) {
  for (const auto& c : hv::conformance::all_cases()) {
    if (c.name == name) return c;
  }
  throw std::invalid_argument(std::string(name));
}

class FaultDetection : public ::testing::Test {
 protected:
  void SetUp() override {
    auto availability = hv::kvm::probe();
    if (!availability.available)
      GTEST_SKIP() << "needs a real backend to wrap; KVM unavailable: " << availability.reason;
  }

  static void expect_detected(hvtest::Fault fault, std::initializer_list<std::string_view> cases) {
    for (auto name : cases) {
      const auto& info = find_case(name);
      auto real = hv::kvm::open();
      ASSERT_TRUE(real);
      EXPECT_EQ(hv::conformance::run_case(info, **real).outcome, Outcome::Pass) << name << " fails on the real backend";
      auto wrapped = hv::kvm::open();
      ASSERT_TRUE(wrapped);
      auto faulty = hvtest::make_faulty(std::move(*wrapped), fault);
      const auto result = hv::conformance::run_case(info, *faulty);
      EXPECT_EQ(result.outcome, Outcome::Fail) << name << " did not detect the fault";
      EXPECT_FALSE(result.detail.empty()) << name << " failed without saying why";
    }
  }
};

TEST_F(FaultDetection, DroppedReadDataIsCaught) {
  expect_detected(hvtest::Fault::DropReadData, {"pio_in_byte", "pio_in_word", "pio_in_dword", "string_insw_rep",
                                                "mmio_read_qword", "unmapped_access_exits"});
}

TEST_F(FaultDetection, MisreportedMmioSizeIsCaught) {
  expect_detected(hvtest::Fault::MisreportMmioSize,
                  {"mmio_write_byte", "mmio_write_qword_rex", "mmio_read_word_movzx"});
}

TEST_F(FaultDetection, LostKickIsCaught) {
  expect_detected(hvtest::Fault::LoseFirstKick, {"kick_stops_spinning_guest"});
}

}  // namespace
