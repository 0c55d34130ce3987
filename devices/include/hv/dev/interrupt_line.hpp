#pragma once
// An interrupt line a device raises and lowers. The VMM decides what is behind it: an irqfd, the
// backend's set_irq_line, or nothing (a guest that polls). Devices share their line
// (std::shared_ptr<InterruptLine>), and a line shares what it drives (the Vm, the eventfd): none of
// them holds a reference that could outlive its target, whatever order the VMM destroys things in.

#include <atomic>
#include <cstdint>
#include <memory>

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

// Drives a GSI of the VM's in-kernel irqchip, forwarding only changes of level. Keeps the Vm (not
// null) alive.
class VmInterruptLine final : public InterruptLine {
 public:
  VmInterruptLine(std::shared_ptr<Vm> vm, std::uint32_t gsi);
  void set_level(bool asserted) override;

 private:
  std::shared_ptr<Vm> vm_;
  std::uint32_t gsi_;
  std::atomic<bool> level_{false};
};

// Signals an eventfd (an irqfd registered by the VMM) on each rising edge. Keeps the eventfd (not
// null) open.
class IrqfdInterruptLine final : public InterruptLine {
 public:
  explicit IrqfdInterruptLine(std::shared_ptr<const EventFd> event);
  void set_level(bool asserted) override;

 private:
  std::shared_ptr<const EventFd> event_;
  std::atomic<bool> level_{false};
};

}  // namespace hv::dev
