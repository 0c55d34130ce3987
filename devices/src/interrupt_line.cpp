#include "hv/dev/interrupt_line.hpp"

namespace hv::dev {

void VmInterruptLine::set_level(bool asserted) {
  if (level_.exchange(asserted) != asserted) (void)vm_.set_irq_line(gsi_, asserted);
}

void IrqfdInterruptLine::set_level(bool asserted) {
  if (!level_.exchange(asserted) && asserted) (void)event_.signal();
}

}  // namespace hv::dev
