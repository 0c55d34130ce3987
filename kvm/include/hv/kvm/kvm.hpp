#pragma once
// The KVM backend: hvkit's interface on /dev/kvm.

#include <memory>
#include <string>

#include "hv/backend_registry.hpp"
#include "hv/hypervisor.hpp"

namespace hv::kvm {

inline constexpr const char* kDefaultDevicePath = "/dev/kvm";

// Whether /dev/kvm can be opened here, and if not, why ("no /dev/kvm", "permission denied on /dev/kvm").
BackendAvailability probe(const std::string& device_path = kDefaultDevicePath);
// Opens the device and checks the API version.
Result<std::unique_ptr<Hypervisor>> open(const std::string& device_path = kDefaultDevicePath);
// Name "kvm": pass to hv::register_backend() to make the backend discoverable by name.
BackendDescriptor backend_descriptor();

// KVM-only extension (not in the neutral interface): single-step `vcpu`, which must come from this
// backend (InvalidArgument otherwise). Each run() then returns after one guest instruction with
// UnknownExit{"kvm", kDebugExitReason}, unless the instruction exits for another reason first. The
// MSHV ABI simulator uses it to know every instruction's starting state.
inline constexpr std::uint64_t kDebugExitReason = 4;  // KVM_EXIT_DEBUG
Result<void> set_single_step(Vcpu& vcpu, bool enabled);

}  // namespace hv::kvm
