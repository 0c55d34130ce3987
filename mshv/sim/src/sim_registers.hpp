#pragma once
// The simulated hypervisor's register file, addressed by Hyper-V register name (hv_register_name) as
// HVCALL_GET/SET_VP_REGISTERS address it, over the KVM vCPU that runs the VP. One batch loads each
// register group from KVM at most once and writes back only the groups it changed.

#include <cstdint>
#include <optional>

#include "hv/hypervisor.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv::sim {

class RegisterBatch {
 public:
  explicit RegisterBatch(Vcpu& vcpu) : vcpu_(vcpu) {}
  // HV_STATUS_SUCCESS, or the status the hypervisor gives for an unknown or unsettable name.
  std::uint16_t get(std::uint32_t name, abi::HvRegisterValue& value);
  std::uint16_t set(std::uint32_t name, const abi::HvRegisterValue& value);
  // Writes the changed groups back to KVM; false if KVM refused (the caller reports a failed call).
  bool commit();

 private:
  bool load_general();
  bool load_special();
  bool load_fpu();
  // The snapshot state (sim_vcpu_state.cpp): the inner vCPU's events, MP state, XCR0 and debug registers
  // behind the Hyper-V registers that hold them.
  bool is_vcpu_state(std::uint32_t name) const;
  std::uint16_t get_vcpu_state(std::uint32_t name, abi::HvRegisterValue& value);
  std::uint16_t set_vcpu_state(std::uint32_t name, const abi::HvRegisterValue& value);
  bool commit_vcpu_state();
  Vcpu& vcpu_;
  std::optional<GeneralRegisters> general_;
  std::optional<SpecialRegisters> special_;
  std::optional<FpuState> fpu_;
  bool general_dirty_ = false, special_dirty_ = false, fpu_dirty_ = false;
  std::optional<VcpuEvents> events_;
  std::optional<MpState> mp_state_;
  std::optional<ExtendedControlRegisters> xcrs_;
  std::optional<DebugRegisters> debug_;
  bool events_dirty_ = false, mp_state_dirty_ = false, xcrs_dirty_ = false, debug_dirty_ = false;
};

// Segment attribute word (hv_x64_segment_register.attributes) <-> hvkit's Segment fields.
std::uint16_t segment_attributes(const Segment& s);
void apply_segment_attributes(std::uint16_t attributes, Segment& s);

}  // namespace hv::mshv::sim
