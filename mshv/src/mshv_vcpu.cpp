// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The VP's state through HVCALL_GET/SET_VP_REGISTERS: registers, MSRs, CPUID results.
#include "mshv_vcpu.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "mshv_cpuid.hpp"
#include "mshv_registers.hpp"

namespace hv::mshv::detail {

MshvVcpu::MshvVcpu(std::uint32_t index, std::shared_ptr<PartitionMemory> memory, int kick_signal) noexcept
    : index_(index), memory_(std::move(memory)), kicks_(kick_signal) {}

void MshvVcpu::attach(MshvFd vp) noexcept {
  vp_ = std::move(vp);
  page_ = map_register_page(vp_.system(), vp_.get());
}

// The register page where rust-vmm mshv-ioctls uses it (VcpuFd::get_regs/set_regs: the page while
// `isvalid`, else the hypercalls) [§10.1]. A VMM's get_registers/set_registers between two run()s
// take the same path as the exit handlers, so each sees what the other wrote: a RIP advanced in the
// page and not yet applied is what get_registers returns.
// A batch that mixes page and other registers keeps the page authoritative for its registers: a read
// takes the others by hypercall and the page's own from the page (which holds writes not yet applied);
// a write the page cannot hold goes by hypercall with the page's unapplied writes first in the same
// call — so they land before it, in the caller's order, rather than at the next RUN_VP after it — and
// the page's copies of the batch's registers are updated, so later reads from the page are current.
Result<void> MshvVcpu::get(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> values) const {
  if (!page_.valid()) return get_vp_registers(vp_, index_, names, values);
  if (VpRegisterPage::readable(names)) {
    page_.read(names, values);
    return {};
  }
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return r;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (VpRegisterPage::on_page(names[i])) page_.read(names.subspan(i, 1), values.subspan(i, 1));
  }
  return {};
}

Result<void> MshvVcpu::set(std::span<const abi::HvRegisterAssoc> assocs) {
  if (!page_.valid()) return set_vp_registers(vp_, index_, assocs);
  if (VpRegisterPage::writable(assocs)) {
    page_.write(assocs);
    return {};
  }
  std::uint32_t dirty = 0;
  std::vector<abi::HvRegisterAssoc> batch = page_.take_pending(dirty);
  batch.insert(batch.end(), assocs.begin(), assocs.end());
  if (auto r = set_vp_registers(vp_, index_, batch); !r) {
    page_.restore_dirty(dirty);
    return r;
  }
  page_.refresh(assocs);
  return {};
}

Result<GeneralRegisters> MshvVcpu::get_registers() const {
  const auto names = general_register_names();
  GeneralRegisterValues values{};
  if (auto r = get(names, values); !r) return tl::unexpected(r.error());
  return to_general(values);
}

Result<void> MshvVcpu::set_registers(const GeneralRegisters& regs) { return set(from_general(regs)); }

Result<SpecialRegisters> MshvVcpu::get_special_registers() const {
  const auto names = special_register_names();
  std::vector<abi::HvRegisterValue> values(names.size());
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return tl::unexpected(r.error());
  return to_special(values);
}

Result<void> MshvVcpu::set_special_registers(const SpecialRegisters& sregs) { return set(from_special(sregs)); }

Result<FpuState> MshvVcpu::get_fpu() const {
  const auto names = fpu_register_names();
  std::vector<abi::HvRegisterValue> values(names.size());
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return tl::unexpected(r.error());
  return to_fpu(values);
}

Result<void> MshvVcpu::set_fpu(const FpuState& fpu) { return set(from_fpu(fpu)); }

Result<XsaveArea> MshvVcpu::get_xsave() const {
  return fail(ErrorKind::Unsupported, "Vcpu::get_xsave",
              "not implemented on MSHV yet (VP state XSAVE is in compacted format)");
}
Result<void> MshvVcpu::set_xsave(const XsaveArea&) {
  return fail(ErrorKind::Unsupported, "Vcpu::set_xsave",
              "not implemented on MSHV yet (VP state XSAVE is in compacted format)");
}

Result<void> MshvVcpu::get_msrs(std::span<MsrEntry> entries) const {
  for (auto& e : entries) {
    auto name = msr_register_name(e.index);
    if (!name)
      return fail(ErrorKind::Unsupported, "Vcpu::get_msrs", "MSR " + hex(e.index) + " has no Hyper-V register name");
    abi::HvRegisterValue value{};
    if (auto r = get_vp_registers(vp_, index_, std::span(&*name, 1), std::span(&value, 1)); !r) return r;
    e.value = value.low;
  }
  return {};
}

Result<void> MshvVcpu::set_msrs(std::span<const MsrEntry> entries) {
  std::vector<abi::HvRegisterAssoc> assocs;
  for (const auto& e : entries) {
    auto name = msr_register_name(e.index);
    if (!name)
      return fail(ErrorKind::Unsupported, "Vcpu::set_msrs", "MSR " + hex(e.index) + " has no Hyper-V register name");
    assocs.push_back(assoc(*name, e.value));
  }
  if (auto r = set(assocs); !r) return r;
  // A TSC write the hypervisor accepted but did not apply must not look applied to a VMM restoring
  // a guest: read it back (the simulator shows this on hosts that ignore TSC writes).
  constexpr std::uint64_t kTolerance = std::uint64_t{1} << 32;
  for (const auto& e : entries) {
    if (e.index != 0x10) continue;
    MsrEntry now{0x10, 0};
    if (auto r = get_msrs(std::span(&now, 1)); !r) return r;
    if (now.value < e.value || now.value - e.value > kTolerance) {
      return fail(ErrorKind::Unsupported, "Vcpu::set_msrs(IA32_TSC)",
                  "the hypervisor accepted TSC " + hex(e.value) + " but the TSC reads " + hex(now.value) +
                      ": TSC writes are not applied");
    }
  }
  return {};
}

// CPUID results are registered per leaf with HVCALL_REGISTER_INTERCEPT_RESULT (mshv_cpuid.cpp) [§6].
Result<void> MshvVcpu::set_cpuid(std::span<const CpuidEntry> entries) {
  if (auto r = register_cpuid_results(vp_, index_, entries); !r) return r;
  cpuid_.assign(entries.begin(), entries.end());
  return {};
}

// What set_cpuid registered; the hypervisor's own defaults are not readable without a guest.
Result<std::vector<CpuidEntry>> MshvVcpu::get_cpuid() const { return cpuid_; }

Result<LapicState> MshvVcpu::get_lapic() const {
  return fail(ErrorKind::Unsupported, "Vcpu::get_lapic", "not implemented on MSHV yet");
}
Result<void> MshvVcpu::set_lapic(const LapicState&) {
  return fail(ErrorKind::Unsupported, "Vcpu::set_lapic", "not implemented on MSHV yet");
}

}  // namespace hv::mshv::detail
