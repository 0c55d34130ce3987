#include "hv/backend_registry.hpp"

#include <mutex>

namespace hv {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<BackendDescriptor> backends;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

std::vector<BackendDescriptor> snapshot() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return r.backends;
}

}  // namespace

Result<void> register_backend(BackendDescriptor descriptor) {
  if (descriptor.name.empty() || !descriptor.probe || !descriptor.open) {
    return fail(ErrorKind::InvalidArgument, "register_backend", "descriptor needs a name, a probe and an open");
  }
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& b : r.backends) {
    if (b.name == descriptor.name) {
      return fail(ErrorKind::AlreadyExists, "register_backend", "backend '" + descriptor.name + "' is registered");
    }
  }
  r.backends.push_back(std::move(descriptor));
  return {};
}

std::vector<BackendStatus> list_backends() {
  std::vector<BackendStatus> out;
  for (const auto& b : snapshot()) out.push_back({b.name, b.probe()});
  return out;
}

Result<std::unique_ptr<Hypervisor>> open_hypervisor(std::string_view name) {
  std::string known;
  for (const auto& b : snapshot()) {
    if (b.name == name) {
      auto availability = b.probe();
      if (!availability.available) {
        return fail(ErrorKind::Unavailable, "open_hypervisor", b.name + ": " + availability.reason);
      }
      return b.open();
    }
    known += known.empty() ? b.name : ", " + b.name;
  }
  return fail(ErrorKind::NotFound, "open_hypervisor",
              "no backend named '" + std::string(name) + "' (registered: " + (known.empty() ? "none" : known) + ")");
}

Result<std::unique_ptr<Hypervisor>> open_default_hypervisor() {
  std::string reasons;
  for (const auto& b : snapshot()) {
    auto availability = b.probe();
    if (availability.available) return b.open();
    reasons += (reasons.empty() ? "" : "; ") + b.name + ": " + availability.reason;
  }
  return fail(ErrorKind::Unavailable, "open_default_hypervisor",
              reasons.empty() ? "no backend registered" : "no backend available (" + reasons + ")");
}

}  // namespace hv
