#pragma once
// The MSHV backend: hvkit's interface on the upstream Linux /dev/mshv ABI (Microsoft Hypervisor root
// partition). Every system call goes through an MshvSystem (hv/mshv/system.hpp): the real kernel, or
// the ABI simulator (hv/mshv/simulator.hpp). docs/mshv.md says what is verified and how.

#include <memory>
#include <string>

#include "hv/backend_registry.hpp"
#include "hv/hypervisor.hpp"
#include "hv/mshv/system.hpp"

namespace hv::mshv {

inline constexpr const char* kDefaultDevicePath = "/dev/mshv";

// Whether /dev/mshv exists and opens here, and if not, why.
BackendAvailability probe(const std::string& device_path = kDefaultDevicePath);
// The backend over `system`, named `name` ("mshv" for the kernel, "mshv-sim" for the simulator).
Result<std::unique_ptr<Hypervisor>> open(std::shared_ptr<MshvSystem> system, std::string name = "mshv");
// Name "mshv": the real /dev/mshv.
BackendDescriptor backend_descriptor();

}  // namespace hv::mshv
