#pragma once
// Backend discovery. Backend libraries describe themselves with a BackendDescriptor; a VMM registers
// the backends it links (or calls hv::register_builtin_backends() from hvkit::backends), then opens
// one by name or lets hvkit pick the first available one. Linking only hvkit::kvm pulls in nothing else.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hv/error.hpp"
#include "hv/hypervisor.hpp"

namespace hv {

struct BackendAvailability {
  bool available = false;
  std::string reason;  // why not, when unavailable ("no /dev/kvm", "permission denied on /dev/kvm")
};

struct BackendDescriptor {
  std::string name;
  std::function<BackendAvailability()> probe;
  std::function<Result<std::unique_ptr<Hypervisor>>()> open;
};

struct BackendStatus {
  std::string name;
  BackendAvailability availability;
};

// AlreadyExists for a second backend of the same name; InvalidArgument for an incomplete descriptor.
Result<void> register_backend(BackendDescriptor descriptor);
// Every registered backend, in registration order, probed now.
std::vector<BackendStatus> list_backends();
// NotFound for an unknown name (the message lists the known ones); Unavailable with the probe's reason.
Result<std::unique_ptr<Hypervisor>> open_hypervisor(std::string_view name);
// The first available backend in registration order; Unavailable listing every reason otherwise.
Result<std::unique_ptr<Hypervisor>> open_default_hypervisor();

}  // namespace hv
