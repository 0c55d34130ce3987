#include "hv/dev/interrupt_line.hpp"

namespace hv::dev {

void VmInterruptLine::set_level(bool asserted) {
  if (level_.exchange(asserted) == asserted) return;
  // A device cannot act on a failed delivery, but the line must not believe the level changed: put
  // it back (unless another caller moved it meanwhile), so the next set_level to this level retries.
  if (!vm_.set_irq_line(gsi_, asserted)) {
    bool expected = asserted;
    level_.compare_exchange_strong(expected, !asserted);
  }
}

void IrqfdInterruptLine::set_level(bool asserted) {
  // signal() fails only when the eventfd's counter is full: the interrupt is pending already.
  if (!level_.exchange(asserted) && asserted) (void)event_.signal();
}

}  // namespace hv::dev
