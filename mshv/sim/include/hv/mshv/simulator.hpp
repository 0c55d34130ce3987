#pragma once
// mshv-sim: an in-process simulator of the upstream /dev/mshv ABI, built on KVM. It accepts the ioctls
// of mshv/abi/mshv_abi.hpp with the same structs, validates them with the errno values docs/mshv-abi.md
// gives, runs guest code with KVM, and returns the intercept messages that document describes. It is
// the other side of the MSHV backend's contract and shares no code with it above the ABI definitions.
// docs/mshv.md says what it models and what it does not.

#include <cstdint>
#include <memory>

#include "hv/backend_registry.hpp"
#include "hv/mshv/system.hpp"

namespace hv::mshv {

// What the simulated kernel and hypervisor offer, for testing a VMM's fallbacks.
struct SimulatorOptions {
  // Each VP has a register page to map (docs/mshv-abi.md §10.1). false: mapping it fails with ENODEV,
  // as Linux mshv_vp_mmap answers for a VP without one (an encrypted partition's).
  bool register_page = true;
  // The page's isvalid is set at each intercept. false: it stays 0, so the VMM must use the hypercalls.
  bool register_page_valid = true;
};

// Available wherever KVM is.
BackendAvailability probe_simulator();
Result<std::shared_ptr<MshvSystem>> make_simulator(SimulatorOptions options = {});

// Fault injection, for a case KVM does not let the simulator produce: the next memory intercept
// message `system` (a make_simulator() system) builds carries execution state bit 6, interruption
// pending, which the hypervisor sets when the access was made while it delivered an event (the IDT,
// stack or TSS in device memory), not by the instruction at RIP. docs/mshv.md, "Intercepts during
// event delivery".
Result<void> sim_inject_interruption_pending(MshvSystem& system);

// The GpaPage mshv-sim's HVCALL_TRANSLATE_VIRTUAL_ADDRESS writes with any result but SUCCESS (the
// TLFS promises the field only with SUCCESS): bits 51:12 all ones, a page no guest maps.
inline constexpr std::uint64_t kSimUnpromisedGpaPage = 0xffffffffffULL;

}  // namespace hv::mshv
