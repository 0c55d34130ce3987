// The VMM ends a guest from outside it: request_stop with Reason::Stopped ends a guest that never
// exits, and before run() makes run() return at once; the requester's status and message come back.
#include <atomic>
#include <chrono>
#include <thread>

#include "machine_test_fixture.hpp"

namespace {

using hv::vmm::MachineExit;

class MachineStop : public hvtest::KvmMachineTest {
 protected:
  void SetUp() override {
    KvmMachineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    machine = make_machine("spin", console);
    ASSERT_TRUE(machine);
  }
  std::shared_ptr<hv::dev::BufferSink> console = std::make_shared<hv::dev::BufferSink>();
  std::unique_ptr<hv::vmm::Machine> machine;
};

TEST_F(MachineStop, RequestStopEndsAGuestThatNeverExits) {
  std::thread timer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    machine->request_stop({MachineExit::Reason::Stopped, 124, "timed out"});
  });
  const auto exit = machine->run();
  timer.join();
  EXPECT_EQ(exit.reason, MachineExit::Reason::Stopped) << exit.message;
  EXPECT_EQ(exit.status, 124U);
  EXPECT_EQ(exit.message, "timed out");
  EXPECT_EQ(console->contents(), "R");
}

TEST_F(MachineStop, RequestStopBeforeRunReturnsAtOnce) {
  machine->request_stop({MachineExit::Reason::Stopped, 143, "stopped by SIGTERM"});
  const auto exit = machine->run();
  EXPECT_EQ(exit.reason, MachineExit::Reason::Stopped) << exit.message;
  EXPECT_EQ(exit.status, 143U);
}

// The UART is line-buffered and "R" has no newline; the guest then spins without another exit, so
// no vCPU thread ever flushes it. It reaches the console while the guest still runs: the machine's
// console flusher hands it on (the 20 s are a bound for a stuck test, not a timing expectation).
TEST_F(MachineStop, OutputWithoutANewlineAppearsWhileTheGuestStillRuns) {
  std::atomic<bool> appeared{false};
  std::thread watcher([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (console->contents().empty() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    appeared = !console->contents().empty();
    machine->request_stop({MachineExit::Reason::Stopped, 0, "watcher done"});
  });
  const auto exit = machine->run();
  watcher.join();
  EXPECT_EQ(exit.message, "watcher done") << "the guest was still running when the output appeared";
  EXPECT_TRUE(appeared);
  EXPECT_EQ(console->contents(), "R");
}

}  // namespace
