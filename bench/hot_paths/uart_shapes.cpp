// The 16550 UART shapes (filled in with the UART's hot-path work).
#include "shape_registry.hpp"

namespace hvbench {

void add_uart_shapes() {}

}  // namespace hvbench
