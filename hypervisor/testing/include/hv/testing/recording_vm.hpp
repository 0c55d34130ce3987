#pragma once
// A Vm that only records the interrupt-line levels it is given, in order: what the kernel's irqchip
// would see from VmInterruptLine. Every other call is the StubVm's. Its members are plain (not
// atomic) on purpose: two threads calling set_irq_line at once is a data race that ThreadSanitizer
// reports, which is how the concurrency tests check that devices serialise their interrupt lines.

#include <cstdint>
#include <utility>
#include <vector>

#include "hv/testing/stub_vm.hpp"

namespace hv::testing {

class RecordingVm final : public StubVm {
 public:
  std::vector<std::pair<std::uint32_t, bool>> lines;  // (gsi, level) per call, in order
  Result<void> set_irq_line(std::uint32_t gsi, bool level) override {
    lines.emplace_back(gsi, level);
    return {};
  }
  // The level the kernel ends with: the last one set, false if none was.
  [[nodiscard]] bool level() const { return !lines.empty() && lines.back().second; }
};

}  // namespace hv::testing
