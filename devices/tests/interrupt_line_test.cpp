#include <chrono>
#include <memory>
#include <unistd.h>

#include <gtest/gtest.h>

#include "hv/dev/interrupt_line.hpp"
#include "hv/testing/recording_vm.hpp"

namespace {

using namespace std::chrono_literals;

TEST(IrqfdInterruptLine, SignalsOnceForEachRisingEdge) {
  auto created = hv::EventFd::create();
  ASSERT_TRUE(created);
  auto event = std::make_shared<hv::EventFd>(std::move(*created));
  hv::dev::IrqfdInterruptLine line(event);
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
  auto vm = std::make_shared<hv::testing::RecordingVm>();
  hv::dev::VmInterruptLine line(vm, 4);
  line.set_level(true);
  line.set_level(true);
  line.set_level(false);
  line.set_level(false);
  line.set_level(true);
  EXPECT_EQ(vm->lines, (std::vector<std::pair<std::uint32_t, bool>>{{4, true}, {4, false}, {4, true}}));
}

// A line shares what it drives: the VMM may destroy its own Vm pointer (or close its copy of the
// irqfd) first, and a device raising the line afterwards reaches a live Vm (a live eventfd), not
// freed memory (ASan) or a reused descriptor.
TEST(VmInterruptLine, KeepsItsVmAlive) {
  std::weak_ptr<hv::testing::RecordingVm> watch;
  std::unique_ptr<hv::dev::VmInterruptLine> line;
  {
    auto vm = std::make_shared<hv::testing::RecordingVm>();
    watch = vm;
    line = std::make_unique<hv::dev::VmInterruptLine>(vm, 9);
  }
  ASSERT_FALSE(watch.expired());
  line->set_level(true);
  EXPECT_EQ(watch.lock()->lines, (std::vector<std::pair<std::uint32_t, bool>>{{9, true}}));
  line.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(IrqfdInterruptLine, KeepsItsEventFdOpen) {
  auto created = hv::EventFd::create();
  ASSERT_TRUE(created);
  auto event = std::make_shared<hv::EventFd>(std::move(*created));
  const int fd = event->fd();
  std::weak_ptr<const hv::EventFd> watch = event;
  hv::dev::IrqfdInterruptLine line(std::move(event));
  ASSERT_FALSE(watch.expired()) << "the line holds the eventfd: its descriptor cannot be closed and reused";
  line.set_level(true);
  std::uint64_t count = 0;
  ASSERT_EQ(::read(fd, &count, sizeof count), static_cast<ssize_t>(sizeof count));
  EXPECT_EQ(count, 1U);
}

}  // namespace
