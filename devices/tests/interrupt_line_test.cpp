#include <chrono>

#include <gtest/gtest.h>

#include "hv/dev/interrupt_line.hpp"
#include "hv/testing/recording_vm.hpp"

namespace {

using namespace std::chrono_literals;

TEST(IrqfdInterruptLine, SignalsOnceForEachRisingEdge) {
  auto event = hv::EventFd::create();
  ASSERT_TRUE(event);
  hv::dev::IrqfdInterruptLine line(*event);
  line.set_level(true);
  line.set_level(true);  // still asserted: no second interrupt
  auto count = event->consume();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 1U);
  line.set_level(false);
  EXPECT_FALSE(*event->wait_for(0ms)) << "lowering the line signals nothing";
  line.set_level(true);
  EXPECT_EQ(*event->consume(), 1U);
}

TEST(VmInterruptLine, ForwardsOnlyChangesOfLevel) {
  hv::testing::RecordingVm vm;
  hv::dev::VmInterruptLine line(vm, 4);
  line.set_level(true);
  line.set_level(true);
  line.set_level(false);
  line.set_level(false);
  line.set_level(true);
  EXPECT_EQ(vm.lines, (std::vector<std::pair<std::uint32_t, bool>>{{4, true}, {4, false}, {4, true}}));
}

}  // namespace
