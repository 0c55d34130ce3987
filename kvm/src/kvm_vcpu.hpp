#pragma once

#include <atomic>
#include <cstddef>
#include <sys/types.h>

#include "hv/hypervisor.hpp"
#include "hv/unique_fd.hpp"
#include "kvm_exit_decoder.hpp"

namespace hv::kvm::detail {

// Owns the mmap of a vCPU's kvm_run page(s).
class KvmRunMapping {
 public:
  static Result<KvmRunMapping> map(int vcpu_fd, std::size_t size);
  KvmRunMapping(KvmRunMapping&& other) noexcept;
  KvmRunMapping& operator=(KvmRunMapping&&) = delete;
  KvmRunMapping(const KvmRunMapping&) = delete;
  KvmRunMapping& operator=(const KvmRunMapping&) = delete;
  ~KvmRunMapping();
  [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept { return {address_, size_}; }
  [[nodiscard]] std::uint8_t& immediate_exit() const noexcept;

 private:
  KvmRunMapping(std::uint8_t* address, std::size_t size) noexcept : address_(address), size_(size) {}
  std::uint8_t* address_;
  std::size_t size_;
};

// KVM_RUN itself: ::ioctl(vcpu_fd, KVM_RUN, 0), 0 or -1 with errno set.
int enter_kvm_run(int vcpu_fd) noexcept;
using EnterFunction = int (*)(int vcpu_fd) noexcept;

struct KvmVcpuConfig {
  std::uint32_t id = 0;
  std::size_t xsave_size = 4096;  // KVM_CAP_XSAVE2's answer, at least 4096
  bool has_xsave = false;
  bool has_lapic = false;
  int kick_signal = 0;  // VmOptions::kick_signal, resolved; installed before the KvmVcpu exists
};

class KvmVcpu final : public Vcpu {
 public:
  KvmVcpu(UniqueFd fd, KvmRunMapping run, KvmVcpuConfig config, std::shared_ptr<const GuestMemory> memory) noexcept;
  // The kick signal must be installed (install_kick_signal) before a KvmVcpu exists.

  [[nodiscard]] std::uint32_t id() const noexcept override { return config_.id; }
  void kick() noexcept override;

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
  // kvm_vcpu_state.cpp
  Result<VcpuEvents> get_vcpu_events() const override;
  Result<void> set_vcpu_events(const VcpuEvents& events) override;
  Result<MpState> get_mp_state() const override;
  Result<void> set_mp_state(MpState state) override;
  Result<ExtendedControlRegisters> get_xcrs() const override;
  Result<void> set_xcrs(const ExtendedControlRegisters& xcrs) override;
  Result<DebugRegisters> get_debug_registers() const override;
  Result<void> set_debug_registers(const DebugRegisters& debug) override;
  Result<void> set_single_step(bool enabled);
  // The seam through which kvm/tests make KVM_RUN fail as a kernel may (EAGAIN without end); the
  // library never calls it. Call before run(), from the thread that will call run().
  void replace_kvm_run_for_testing(EnterFunction enter) noexcept { enter_ = enter; }

 protected:
  Result<Exit> run_guest(IoHandler& io) override;

 private:
  // What the kernel can reach through this vCPU: KVM keeps mapping the regions' host pages while the
  // vCPU fd pins the VM. Declared first so it is released last, after fd_ is closed.
  std::shared_ptr<const GuestMemory> memory_;
  EnterFunction enter_ = &enter_kvm_run;
  UniqueFd fd_;
  KvmRunMapping run_;
  KvmVcpuConfig config_;
  Result<void> adopt_calling_thread(pid_t tid);
  Result<void> verify_tsc_write(std::span<const MsrEntry> entries) const;
  std::atomic<bool> kick_pending_{false};
  // Kernel thread id of the thread inside run(), 0 outside it. A tid (unlike a pthread_t) stays safe to
  // signal after its thread exits: tgkill then fails with ESRCH or, after tid reuse, reaches another
  // thread whose kick handler does nothing.
  std::atomic<pid_t> running_tid_{0};
  // The thread whose signal mask KVM_SET_SIGNAL_MASK was last given; run() redoes it on a new thread.
  pid_t masked_tid_ = 0;
};

}  // namespace hv::kvm::detail
