#include <chrono>

#include <gtest/gtest.h>

#include "hv/dev/interrupt_line.hpp"
#include "hv/testing/stub_vm.hpp"

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

// Records the GSI levels a device drives through VmInterruptLine.
class RecordingVm final : public hv::testing::StubVm {
 public:
  std::vector<std::pair<std::uint32_t, bool>> lines;
  hv::Result<void> set_irq_line(std::uint32_t gsi, bool level) override {
    lines.emplace_back(gsi, level);
    return {};
  }
};

TEST(VmInterruptLine, ForwardsOnlyChangesOfLevel) {
  RecordingVm vm;
  hv::dev::VmInterruptLine line(vm, 4);
  line.set_level(true);
  line.set_level(true);
  line.set_level(false);
  line.set_level(false);
  line.set_level(true);
  EXPECT_EQ(vm.lines, (std::vector<std::pair<std::uint32_t, bool>>{{4, true}, {4, false}, {4, true}}));
}

}  // namespace
