#pragma once
// hvkit's register types as Hyper-V register names and values (HVCALL_GET/SET_VP_REGISTERS), in
// batches that fit one hypercall page. The backend's own conversions; the simulator has its own.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hv/x86_registers.hpp"
#include "mshv_abi.hpp"
#include "mshv_calls.hpp"

namespace hv::mshv::detail {

// Reads `names` of VP `vp_index` into `values` (same length), in as many hypercalls as needed.
Result<void> get_vp_registers(const MshvFd& fd, std::uint32_t vp_index, std::span<const std::uint32_t> names,
                              std::span<abi::HvRegisterValue> values);
Result<void> set_vp_registers(const MshvFd& fd, std::uint32_t vp_index, std::span<const abi::HvRegisterAssoc> assocs);

// Fixed-size arrays: the exit path reads and writes these without allocating.
inline constexpr std::size_t kGeneralRegisterCount = 18;
using GeneralRegisterNames = std::array<std::uint32_t, kGeneralRegisterCount>;
using GeneralRegisterValues = std::array<abi::HvRegisterValue, kGeneralRegisterCount>;
using GeneralRegisterAssocs = std::array<abi::HvRegisterAssoc, kGeneralRegisterCount>;
GeneralRegisterNames general_register_names();  // RAX..R15, RIP, RFLAGS
GeneralRegisters to_general(std::span<const abi::HvRegisterValue> values);
GeneralRegisterAssocs from_general(const GeneralRegisters& regs);

std::vector<std::uint32_t> special_register_names();  // ES..TR, GDTR, IDTR, CR0/2/3/4/8, EFER, APIC_BASE
SpecialRegisters to_special(std::span<const abi::HvRegisterValue> values);
std::vector<abi::HvRegisterAssoc> from_special(const SpecialRegisters& sregs);

std::vector<std::uint32_t> fpu_register_names();  // FP_MMX0-7, FP/XMM control-status, XMM0-15
FpuState to_fpu(std::span<const abi::HvRegisterValue> values);
std::vector<abi::HvRegisterAssoc> from_fpu(const FpuState& fpu);

// The register name Hyper-V uses for MSR `index`, if it exposes that MSR as a register.
std::optional<std::uint32_t> msr_register_name(std::uint32_t index);

abi::HvRegisterAssoc assoc(std::uint32_t name, std::uint64_t value);
abi::HvRegisterAssoc assoc_raw(std::uint32_t name, const abi::HvRegisterValue& value);  // all 128 bits

}  // namespace hv::mshv::detail
