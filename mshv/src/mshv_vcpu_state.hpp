#pragma once
// hvkit's snapshot state (vCPU events, MP state) as the Hyper-V registers that hold it, and back
// [docs/mshv-abi.md §7.1]. Pure conversions, so the backend tests can check each bit; mshv_vcpu_state.cpp
// moves them through HVCALL_GET/SET_VP_REGISTERS. The simulator has its own decoding.

#include <cstdint>

#include "hv/error.hpp"
#include "hv/x86_registers.hpp"

namespace hv::mshv::detail {

struct EventRegisters {
  std::uint64_t pending_interruption = 0;  // HV_REGISTER_PENDING_INTERRUPTION
  std::uint64_t interrupt_state = 0;       // HV_REGISTER_INTERRUPT_STATE
};

// Unsupported for what one pending-interruption register cannot hold: two injected events at once,
// or a latched NMI (the hypervisor keeps that in its virtual APIC).
Result<EventRegisters> to_event_registers(const VcpuEvents& events);
// Unsupported for a software interrupt or exception (types 4-6), which hvkit does not model.
Result<VcpuEvents> from_event_registers(const EventRegisters& registers);

// HV_REGISTER_INTERNAL_ACTIVITY_STATE: startup suspend is "waiting for SIPI" (InitReceived), halt
// suspend is Halted. Uninitialized and SipiReceived have no such bit: Unsupported.
Result<std::uint64_t> to_internal_activity(MpState state);
Result<MpState> from_internal_activity(std::uint64_t value);

}  // namespace hv::mshv::detail
