// Compiled by result_nodiscard_check.cmake, never linked: once as is (a Result used or explicitly
// discarded, which must compile with -Werror) and once with HVKIT_DROP_RESULT (a Result<void> dropped,
// which must not).
#include "hv/error.hpp"

hv::Result<void> map_memory();
hv::Result<int> read_value();

int use_results() {
#ifdef HVKIT_DROP_RESULT
  map_memory();
#endif
  if (!map_memory()) return 1;
  (void)read_value();  // an explicit (void) is how a caller says the result does not matter
  auto value = read_value();
  return value ? *value : 2;
}
