#include "hv/dev/interrupt_line.hpp"

#include <utility>

#include <gsl/gsl>

namespace hv::dev {

VmInterruptLine::VmInterruptLine(std::shared_ptr<Vm> vm, std::uint32_t gsi) : vm_(std::move(vm)), gsi_(gsi) {
  Expects(vm_ != nullptr);
}

void VmInterruptLine::set_level(bool asserted) {
  // A refused level is not retried: a backend that refuses once (MSHV has no set_irq_line) refuses
  // every time, and retrying would cost an ioctl per guest register access (threat-model/interrupt-lines.md).
  if (level_.exchange(asserted) != asserted) (void)vm_->set_irq_line(gsi_, asserted);
}

IrqfdInterruptLine::IrqfdInterruptLine(std::shared_ptr<const EventFd> event) : event_(std::move(event)) {
  Expects(event_ != nullptr);
}

void IrqfdInterruptLine::set_level(bool asserted) {
  // signal() fails only when the eventfd's counter is full: the interrupt is pending already.
  if (!level_.exchange(asserted) && asserted) (void)event_->signal();
}

}  // namespace hv::dev
