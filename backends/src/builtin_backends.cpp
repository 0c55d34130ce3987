#include "hv/builtin_backends.hpp"

#include <mutex>

#include "hv/backend_registry.hpp"
#include "hv/kvm/kvm.hpp"

namespace hv {

void register_builtin_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Registration order is auto-detection order.
    (void)register_backend(kvm::backend_descriptor());
  });
}

}  // namespace hv
