// kick() from another thread must end a run() of a guest spinning forever.
#include <chrono>
#include <future>
#include <thread>

#include "kvm_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using hvtest::KvmVmTest;

// A hang is a failure, not a slow pass: wait at most this long for run() to return after a kick.
constexpr auto kKickDeadline = 10s;

TEST_F(KvmVmTest, KickStopsASpinningGuestRepeatedly) {
  load({0xEB, 0xFE});  // jmp $
  for (int round = 0; round < 3; ++round) {
    auto result = std::async(std::launch::async, [&] { return vcpu->run(); });
    std::this_thread::sleep_for(50ms);
    ASSERT_EQ(result.wait_for(0s), std::future_status::timeout) << "the guest spins; run() must not return by itself";
    vcpu->kick();
    ASSERT_EQ(result.wait_for(kKickDeadline), std::future_status::ready) << "round " << round;
    auto exit = result.get();
    ASSERT_TRUE(exit) << exit.error().to_string();
    EXPECT_TRUE(std::holds_alternative<hv::InterruptedExit>(*exit)) << hv::exit_name(*exit);
  }
  EXPECT_EQ(vcpu->get_registers()->rip, hvtest::kCodeAddress);  // still spinning on the jmp
}

TEST_F(KvmVmTest, KickBeforeRunIsNotLostAndIsConsumedOnce) {
  load({0xF4});  // hlt
  vcpu->kick();
  auto first = vcpu->run();
  ASSERT_TRUE(first);
  EXPECT_TRUE(std::holds_alternative<hv::InterruptedExit>(*first)) << hv::exit_name(*first);
  auto second = vcpu->run();
  ASSERT_TRUE(second);
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*second)) << hv::exit_name(*second);
}

}  // namespace
