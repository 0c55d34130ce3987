#include "hv/builtin_backends.hpp"

#include <mutex>

#include "hv/backend_registry.hpp"
#include "hv/kvm/kvm.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"

namespace hv {

void register_builtin_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Registration order is auto-detection order. A registration fails only with AlreadyExists, when
    // the VMM registered that backend itself first: then its descriptor stays, which is what it asked for.
    (void)register_backend(kvm::backend_descriptor());
    (void)register_backend(mshv::backend_descriptor());
    // The MSHV backend over the ABI simulator, wherever KVM runs (docs/mshv.md).
    (void)register_backend(BackendDescriptor{.name = "mshv-sim",
                                             .probe = [] { return mshv::probe_simulator(); },
                                             .open = []() -> Result<std::unique_ptr<Hypervisor>> {
                                               auto system = mshv::make_simulator();
                                               if (!system) return tl::unexpected(system.error());
                                               return mshv::open(std::move(*system), "mshv-sim");
                                             }});
  });
}

}  // namespace hv
