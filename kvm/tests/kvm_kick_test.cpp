// kick() from another thread must end a run() of a guest spinning forever.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <tuple>
#include <future>
#include <thread>

#include "kick_signal_scenario.hpp"
#include "kvm_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using hvtest::KvmVmTest;

// A hang is a failure, not a slow pass: wait at most this long for run() to return after a kick.
constexpr auto kKickDeadline = 10s;

TEST_F(KvmVmTest, KickStopsASpinningGuestRepeatedly) {
  load({0xEB, 0xFE});  // jmp $
  for (int round = 0; round < 3; ++round) {
    auto result = std::async(std::launch::async, [&] { return vcpu->run(io); });
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
  auto first = vcpu->run(io);
  ASSERT_TRUE(first);
  EXPECT_TRUE(std::holds_alternative<hv::InterruptedExit>(*first)) << hv::exit_name(*first);
  auto second = vcpu->run(io);
  ASSERT_TRUE(second);
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*second)) << hv::exit_name(*second);
}

TEST_F(KvmVmTest, KickOutsideRunDoesNotInterruptTheThreadsOwnSyscalls) {
  load({0xF4, 0xEB, 0xFE});  // hlt; jmp $
  std::promise<void> sleeping;
  auto worker = std::async(std::launch::async, [&] {
    auto first = vcpu->run(io);  // adopts this thread: the kick signal is blocked outside KVM_RUN
    EXPECT_TRUE(first && std::holds_alternative<hv::HaltExit>(*first));
    sleeping.set_value();
    timespec nap{.tv_sec = 0, .tv_nsec = 300'000'000};
    const int slept = ::nanosleep(&nap, nullptr);
    const int err = errno;
    auto second = vcpu->run(io);  // the kick that arrived during the nap is still pending
    return std::make_tuple(slept, err, std::move(second));
  });
  sleeping.get_future().wait();
  std::this_thread::sleep_for(50ms);
  vcpu->kick();
  ASSERT_EQ(worker.wait_for(kKickDeadline), std::future_status::ready);
  auto [slept, err, second] = worker.get();
  EXPECT_EQ(slept, 0) << "nanosleep was interrupted (errno " << err << ")";
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::InterruptedExit>(*second)) << hv::exit_name(*second);
}

TEST_F(KvmVmTest, SameThreadRunsNormallyAfterBeingKicked) {
  // A kick leaves the signal pending in the vCPU thread once KVM_RUN returns (it is blocked outside
  // KVM_RUN); if it were not consumed, every later KVM_RUN on this thread would fail with EINTR.
  load({0xEB, 0xFE});    // 0x1000: jmp $
  load({0xF4}, 0x1100);  // 0x1100: hlt
  auto worker = std::async(std::launch::async, [&] {
    auto first = vcpu->run(io);  // spins until kicked
    EXPECT_TRUE(first && std::holds_alternative<hv::InterruptedExit>(*first));
    auto regs = vcpu->get_registers();
    regs->rip = 0x1100;
    EXPECT_TRUE(vcpu->set_registers(*regs));
    return vcpu->run(io);  // same thread: must reach the HLT
  });
  std::this_thread::sleep_for(50ms);
  vcpu->kick();
  ASSERT_EQ(worker.wait_for(kKickDeadline), std::future_status::ready) << "the thread spun on a stale kick signal";
  auto second = worker.get();
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*second)) << hv::exit_name(*second);
}

extern "C" void foreign_handler(int) {}

TEST(KvmKickSignal, RefusesToReplaceAForeignSigrtminHandler) {
  if (!hv::kvm::probe().available) GTEST_SKIP() << "KVM unavailable: " << hv::kvm::probe().reason;
  // The kick handler is installed once per process, so check in a fresh process: "threadsafe" runs the
  // child from exec, so vCPUs that earlier tests of this process made have not installed it there.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction action {};
        action.sa_handler = foreign_handler;
        ::sigaction(SIGRTMIN, &action, nullptr);
        auto h = hv::kvm::open();
        auto vm = (*h)->create_vm();
        auto vcpu = (*vm)->create_vcpu(0);
        std::exit(!vcpu && vcpu.error().kind() == hv::ErrorKind::Busy ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// VmOptions::kick_signal: with SIGRTMIN (the default) taken by a foreign handler, a VM that chose
// SIGRTMIN + 5 still gets vCPUs, and its kick() interrupts a running guest through that signal.
TEST(KvmKickSignal, AChosenSignalKicksARunningGuest) {
  if (!hv::kvm::probe().available) GTEST_SKIP() << "KVM unavailable: " << hv::kvm::probe().reason;
  EXPECT_EXIT(
      {
        hvtest::install_foreign_handler(SIGRTMIN);
        auto h = hv::kvm::open();
        std::_Exit(h ? hvtest::kick_spinning_guest(**h, {.kick_signal = SIGRTMIN + 5}) : 2);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(KvmKickSignal, RefusesAForeignHandlerOnTheChosenSignal) {
  if (!hv::kvm::probe().available) GTEST_SKIP() << "KVM unavailable: " << hv::kvm::probe().reason;
  EXPECT_EXIT(
      {
        auto h = hv::kvm::open();
        std::_Exit(h ? hvtest::refuses_foreign_handler(**h, SIGRTMIN + 6) : 2);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(KvmKickSignal, OnlyRealTimeSignalsAreAccepted) {
  if (!hv::kvm::probe().available) GTEST_SKIP() << "KVM unavailable: " << hv::kvm::probe().reason;
  auto h = hv::kvm::open();
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_TRUE(hvtest::only_real_time_signals_accepted(**h));
}

}  // namespace
