#pragma once
// A VP. Its concerns live in one file each: mshv_run.cpp (the RUN_VP loop and the messages it
// answers), mshv_port_io.cpp (IN/OUT/INS/OUTS), mshv_mmio.cpp (memory intercepts, emulated once),
// mshv_translate.cpp (guest-virtual addresses), mshv_kick.cpp (kick()), mshv_vcpu.cpp (register,
// MSR and CPUID passthrough). run() completes each intercept the MSHV way: there is no "complete" ioctl, so the backend
// moves the data (between the IoHandler and RAX or guest memory), writes the registers and advances
// RIP itself before the next RUN_VP [docs/mshv-abi.md §12.1]. Memory intercepts are decoded once and
// executed once with hvkit's x86 emulator, whose device accesses go straight to the IoHandler in the
// order the instruction makes them; nothing is replayed and nothing is left pending between run()s.

#include <array>
#include <memory>
#include <vector>

#include "hv/hypervisor.hpp"
#include "hv/x86_emulator.hpp"
#include "mshv_calls.hpp"
#include "mshv_kick.hpp"
#include "mshv_memory.hpp"
#include "mshv_vp_register_page.hpp"

namespace hv::mshv::detail {

class MshvVcpu final : public Vcpu {
 public:
  // Two steps, so that nothing throws and a failure costs no VP (MSHV never destroys one): construct,
  // start_kick_resender(), and only then create the VP and attach() its descriptor.
  MshvVcpu(std::uint32_t index, std::shared_ptr<PartitionMemory> memory, int kick_signal) noexcept;
  // KickResender::start(): never throws.
  Result<void> start_kick_resender() noexcept { return kicks_.start(); }
  // Takes the VP's descriptor and maps its register page, if the system has one for it.
  void attach(MshvFd vp) noexcept;
  ~MshvVcpu() override = default;
  // Pinned: the resender thread holds its member.
  MshvVcpu(const MshvVcpu&) = delete;
  MshvVcpu& operator=(const MshvVcpu&) = delete;

  [[nodiscard]] std::uint32_t id() const noexcept override { return index_; }
  void kick() noexcept override { kicks_.kick(); }

  Result<GeneralRegisters> get_registers() const override;
  Result<void> set_registers(const GeneralRegisters& regs) override;
  Result<SpecialRegisters> get_special_registers() const override;
  Result<void> set_special_registers(const SpecialRegisters& sregs) override;
  Result<FpuState> get_fpu() const override;
  Result<void> set_fpu(const FpuState& fpu) override;
  Result<XsaveArea> get_xsave() const override;
  Result<void> set_xsave(const XsaveArea& xsave) override;
  Result<void> get_msrs(std::span<MsrEntry> entries) const override;
  Result<void> set_msrs(std::span<const MsrEntry> entries) override;
  Result<void> set_cpuid(std::span<const CpuidEntry> entries) override;
  Result<std::vector<CpuidEntry>> get_cpuid() const override;
  Result<LapicState> get_lapic() const override;
  Result<void> set_lapic(const LapicState& lapic) override;
  // mshv_vcpu_state.cpp
  Result<VcpuEvents> get_vcpu_events() const override;
  Result<void> set_vcpu_events(const VcpuEvents& events) override;
  Result<MpState> get_mp_state() const override;
  Result<void> set_mp_state(MpState state) override;
  Result<ExtendedControlRegisters> get_xcrs() const override;
  Result<void> set_xcrs(const ExtendedControlRegisters& xcrs) override;
  Result<DebugRegisters> get_debug_registers() const override;
  Result<void> set_debug_registers(const DebugRegisters& debug) override;

  // Guest-virtual -> guest-physical through HVCALL_TRANSLATE_VIRTUAL_ADDRESS; for a page that is not
  // accessible RAM (no GPA promised), through the guest's own page tables.
  Result<std::uint64_t> translate(std::uint64_t gva, bool write) const;

 protected:
  Result<Exit> run_guest(IoHandler& io) override;

 private:
  // Each completes one intercept (or, for a long REP string instruction, a bounded part of it, the
  // rest re-executed by the guest); success means the guest may resume.
  Result<void> on_io_intercept(const std::uint8_t* payload, IoHandler& io);
  Result<void> on_string_io(const abi::HvIoPortIntercept& m, IoHandler& io);
  Result<void> on_memory_intercept(const std::uint8_t* payload, IoHandler& io);
  // Registers of this VP: through the register page while it is valid and holds every one of them
  // (no hypercall), else HVCALL_GET/SET_VP_REGISTERS.
  Result<void> get(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> values) const;
  Result<void> set(std::span<const abi::HvRegisterAssoc> assocs);
  Result<std::uint64_t> walk_guest_page_tables(std::uint64_t gva, bool write) const;

  MshvFd vp_;
  VpRegisterPage page_;
  std::uint32_t index_;
  std::shared_ptr<PartitionMemory> memory_;
  std::array<std::uint64_t, 1> internal_data_{};  // the words an InternalErrorExit's data points at
  std::vector<CpuidEntry> cpuid_;

  KickResender kicks_;  // on VmOptions::kick_signal, resolved and installed
};

}  // namespace hv::mshv::detail
