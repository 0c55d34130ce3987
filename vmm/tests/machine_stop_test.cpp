// The VMM ends a guest from outside it: request_stop with Reason::Stopped ends a guest that never
// exits, and before run() makes run() return at once; the requester's status and message come back.
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "hv/kvm/kvm.hpp"
#include "hv/vmm/machine.hpp"

namespace {

using hv::vmm::MachineExit;

class MachineStop : public ::testing::Test {
 protected:
  void SetUp() override {
    auto availability = hv::kvm::probe();
    if (!availability.available) GTEST_SKIP() << "KVM unavailable: " << availability.reason;
    auto h = hv::kvm::open();
    ASSERT_TRUE(h);
    hypervisor = std::move(*h);
    std::ifstream f(std::string(HVKIT_TEST_GUESTS) + "/spin.bin", std::ios::binary);
    hv::vmm::MachineConfig config;
    config.image.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    ASSERT_FALSE(config.image.empty());
    config.load_address = 0x1000;
    config.console = &console;
    auto m = hv::vmm::Machine::create(*hypervisor, std::move(config));
    ASSERT_TRUE(m) << m.error().to_string();
    machine = std::move(*m);
  }
  std::unique_ptr<hv::Hypervisor> hypervisor;
  hv::dev::BufferSink console;
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
  EXPECT_EQ(console.contents(), "R");
}

TEST_F(MachineStop, RequestStopBeforeRunReturnsAtOnce) {
  machine->request_stop({MachineExit::Reason::Stopped, 143, "stopped by SIGTERM"});
  const auto exit = machine->run();
  EXPECT_EQ(exit.reason, MachineExit::Reason::Stopped) << exit.message;
  EXPECT_EQ(exit.status, 143U);
}

}  // namespace
