#include <chrono>

#include <gtest/gtest.h>

#include "hv/dev/interrupt_line.hpp"

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
class RecordingVm final : public hv::Vm {
 public:
  std::vector<std::pair<std::uint32_t, bool>> lines;
  hv::Result<void> set_irq_line(std::uint32_t gsi, bool level) override {
    lines.emplace_back(gsi, level);
    return {};
  }
#define UNUSED(R, name, ...) \
  hv::Result<R> name(__VA_ARGS__) override { return hv::fail(hv::ErrorKind::Unsupported, #name, "test VM"); }
  UNUSED(hv::MemorySlot, map_memory, std::shared_ptr<hv::GuestRegion>, hv::MapOptions)
  UNUSED(void, unmap_memory, hv::MemorySlot)
  UNUSED(std::unique_ptr<hv::Vcpu>, create_vcpu, std::uint32_t)
  UNUSED(void, register_irqfd, const hv::EventFd&, std::uint32_t)
  UNUSED(void, unregister_irqfd, const hv::EventFd&, std::uint32_t)
  UNUSED(void, register_ioeventfd, const hv::EventFd&, const hv::IoEventAddress&)
  UNUSED(void, unregister_ioeventfd, const hv::EventFd&, const hv::IoEventAddress&)
  UNUSED(void, signal_msi, const hv::MsiMessage&)
  UNUSED(void, set_gsi_routing, std::span<const hv::GsiRoute>)
  UNUSED(void, enable_dirty_log, hv::MemorySlot)
  UNUSED(hv::DirtyBitmap, fetch_and_clear_dirty_log, hv::MemorySlot)
  UNUSED(void, disable_dirty_log, hv::MemorySlot)
#undef UNUSED
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
