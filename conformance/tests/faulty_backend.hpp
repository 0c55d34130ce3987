#pragma once
// A deliberately wrong backend for testing the conformance suite itself: it forwards to a real backend
// but injects one fault.

#include <memory>

#include "hv/hypervisor.hpp"

namespace hvtest {

enum class Fault {
  DropReadData,       // reads give the guest zeros instead of the VMM's bytes
  MisreportMmioSize,  // MMIO accesses reach the VMM with the wrong size
  LoseFirstKick,      // the first kick() does nothing (a racy kick); later ones work
};

std::unique_ptr<hv::Hypervisor> make_faulty(std::unique_ptr<hv::Hypervisor> real, Fault fault);

}  // namespace hvtest
