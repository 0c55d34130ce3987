#pragma once
// A Vm that only records the interrupt-line levels it is given, in order: what the kernel's irqchip
// would see from VmInterruptLine. Every other call fails with Unsupported. Its members are plain (not
// atomic) on purpose: two threads calling set_irq_line at once is a data race that ThreadSanitizer
// reports, which is how the concurrency tests check that devices serialise their interrupt lines.

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "hv/hypervisor.hpp"

namespace hvtest {

class RecordingVm final : public hv::Vm {
 public:
  std::vector<std::pair<std::uint32_t, bool>> lines;  // (gsi, level) per call, in order
  hv::Result<void> set_irq_line(std::uint32_t gsi, bool level) override {
    lines.emplace_back(gsi, level);
    return {};
  }
  // The level the kernel ends with: the last one set, false if none was.
  [[nodiscard]] bool level() const { return !lines.empty() && lines.back().second; }

#define HVTEST_UNUSED(R, name, ...) \
  hv::Result<R> name(__VA_ARGS__) override { return hv::fail(hv::ErrorKind::Unsupported, #name, "test VM"); }
  HVTEST_UNUSED(hv::MemorySlot, map_memory, std::shared_ptr<hv::GuestRegion>, hv::MapOptions)
  HVTEST_UNUSED(void, unmap_memory, hv::MemorySlot)
  HVTEST_UNUSED(std::unique_ptr<hv::Vcpu>, create_vcpu, std::uint32_t)
  HVTEST_UNUSED(void, register_irqfd, const hv::EventFd&, std::uint32_t)
  HVTEST_UNUSED(void, unregister_irqfd, const hv::EventFd&, std::uint32_t)
  HVTEST_UNUSED(void, register_ioeventfd, const hv::EventFd&, const hv::IoEventAddress&)
  HVTEST_UNUSED(void, unregister_ioeventfd, const hv::EventFd&, const hv::IoEventAddress&)
  HVTEST_UNUSED(void, signal_msi, const hv::MsiMessage&)
  HVTEST_UNUSED(void, set_gsi_routing, std::span<const hv::GsiRoute>)
  HVTEST_UNUSED(void, enable_dirty_log, hv::MemorySlot)
  HVTEST_UNUSED(hv::DirtyBitmap, fetch_and_clear_dirty_log, hv::MemorySlot)
  HVTEST_UNUSED(void, disable_dirty_log, hv::MemorySlot)
#undef HVTEST_UNUSED
};

}  // namespace hvtest
