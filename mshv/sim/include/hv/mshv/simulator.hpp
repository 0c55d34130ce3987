#pragma once
// mshv-sim: an in-process simulator of the upstream /dev/mshv ABI, built on KVM. It accepts the ioctls
// of mshv/abi/mshv_abi.hpp with the same structs, validates them with the errno values docs/mshv-abi.md
// gives, runs guest code with KVM, and returns the intercept messages that document describes. It is
// the other side of the MSHV backend's contract and shares no code with it above the ABI definitions.
// docs/mshv.md says what it models and what it does not.

#include <memory>

#include "hv/backend_registry.hpp"
#include "hv/mshv/system.hpp"

namespace hv::mshv {

// Available wherever KVM is.
BackendAvailability probe_simulator();
Result<std::shared_ptr<MshvSystem>> make_simulator();

}  // namespace hv::mshv
