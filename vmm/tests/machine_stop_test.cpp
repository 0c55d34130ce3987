// The VMM ends a guest from outside it: request_stop with Reason::Stopped ends a guest that never
// exits, and before run() makes run() return at once; the requester's status and message come back.
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

}  // namespace
