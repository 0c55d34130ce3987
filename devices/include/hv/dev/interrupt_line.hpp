#pragma once
// An interrupt line a device raises and lowers. The VMM decides what is behind it: an irqfd, the
// backend's set_irq_line, or nothing (a guest that polls).

#include <atomic>
#include <cstdint>

#include "hv/event_fd.hpp"
#include "hv/hypervisor.hpp"

namespace hv::dev {

class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  virtual void set_level(bool asserted) = 0;
};

// Not connected: for guests that poll, and for tests.
class NullInterruptLine final : public InterruptLine {
 public:
  void set_level(bool) override {}
};

// Drives a GSI of the VM's in-kernel irqchip, forwarding only changes of level.
class VmInterruptLine final : public InterruptLine {
 public:
  VmInterruptLine(Vm& vm, std::uint32_t gsi) noexcept : vm_(vm), gsi_(gsi) {}
  void set_level(bool asserted) override;

 private:
  Vm& vm_;
  std::uint32_t gsi_;
  std::atomic<bool> level_{false};
};

// Signals an eventfd (an irqfd registered by the VMM) on each rising edge.
class IrqfdInterruptLine final : public InterruptLine {
 public:
  explicit IrqfdInterruptLine(const EventFd& event) noexcept : event_(event) {}
  void set_level(bool asserted) override;

 private:
  const EventFd& event_;
  std::atomic<bool> level_{false};
};

}  // namespace hv::dev
