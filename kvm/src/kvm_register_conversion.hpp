#pragma once
// Converts between hvkit's register types and KVM's structs, field by field.

#include <vector>

#include "hv/x86_registers.hpp"
#include "kvm_abi.hpp"

namespace hv::kvm::detail {

GeneralRegisters from_kvm(const kvm_regs& r) noexcept;
kvm_regs to_kvm(const GeneralRegisters& r) noexcept;
// interrupt_bitmap is KVM's; `base` supplies it so set_special_registers preserves it.
SpecialRegisters from_kvm(const kvm_sregs& s) noexcept;
kvm_sregs to_kvm(const SpecialRegisters& s, const kvm_sregs& base) noexcept;
FpuState from_kvm(const kvm_fpu& f) noexcept;
kvm_fpu to_kvm(const FpuState& f) noexcept;
CpuidEntry from_kvm(const kvm_cpuid_entry2& e) noexcept;
kvm_cpuid_entry2 to_kvm(const CpuidEntry& e) noexcept;

}  // namespace hv::kvm::detail
