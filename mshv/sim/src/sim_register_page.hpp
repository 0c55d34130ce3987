#pragma once
// The simulated hypervisor's side of the VP register page (docs/mshv-abi.md §10.1): a page per VP
// that RUN_VP fills with the VP's state when it returns an intercept (isvalid = 1) and whose dirty
// register classes it loads into the VP before the guest runs again (then isvalid = 0: the page
// belongs to the hypervisor while the VP runs).

#include <array>
#include <cstdint>
#include <span>

#include "hv/hypervisor.hpp"

namespace hv::mshv::sim {

struct RegisterPageStorage {
  alignas(4096) std::array<std::uint8_t, 4096> bytes{};
};

// The state at an intercept. `valid` false leaves isvalid 0 (SimulatorOptions::register_page_valid).
void fill_register_page(std::span<std::uint8_t> page, const GeneralRegisters& regs, const SpecialRegisters& sregs,
                        bool valid);
// Loads the classes set in `dirty` (GENERAL, IP, FLAGS, SEGMENT; not XMM) into `vcpu`, clears `dirty` and
// isvalid. False if KVM refused the values (RUN_VP then fails with EIO).
bool apply_register_page(std::span<std::uint8_t> page, Vcpu& vcpu);

}  // namespace hv::mshv::sim
