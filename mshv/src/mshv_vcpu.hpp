#pragma once
// A VP. run() turns intercept messages into hvkit exits and completes them the MSHV way: there is no
// "complete" ioctl, so the backend writes the results (RAX, RSI/RDI/RCX, memory) and advances RIP
// itself before the next RUN_VP [docs/mshv-abi.md §12.1]. Memory intercepts are decoded and executed with hvkit's x86
// emulator; each device access it makes becomes one MmioExit, and the instruction is re-executed
// with the answers so far until it completes (accesses already answered are replayed, not repeated).

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hv/hypervisor.hpp"
#include "hv/x86_emulator.hpp"
#include "mshv_calls.hpp"
#include "mshv_memory.hpp"

namespace hv::mshv::detail {

// One device access of an instruction being emulated.
struct DeviceAccess {
  std::uint64_t gpa = 0;
  std::uint8_t size = 0;
  AccessDirection direction = AccessDirection::Read;
  std::array<std::uint8_t, 8> data{};
};

// What the previous exit left for run() to finish.
struct PendingIo {
  bool in = false;
  bool string = false;
  bool rep = false;
  std::uint16_t port = 0;
  std::uint8_t size = 0;
  std::uint8_t address_size = 8;
  std::uint64_t next_rip = 0;
  std::uint64_t rax = 0, rcx = 0, rsi = 0, rdi = 0, rflags = 0;
  std::uint64_t segment_base = 0;  // DS (or the override) for OUTS, ES for INS
  std::uint64_t remaining = 0;     // elements still to transfer, this exit's included
  std::uint32_t chunk = 0;         // elements in this exit
  std::uint32_t chunks_done = 0;   // exits of this intercept so far
};
struct PendingEmulation {
  x86::Instruction instruction;
  x86::CpuMode mode = x86::CpuMode::Long64;
  x86::SegmentBases segments{};
  GeneralRegisters registers;          // before the instruction
  std::vector<DeviceAccess> answered;  // in the order the instruction makes them
  DeviceAccess current;                // the access of the exit now outstanding
  // The instruction's guest-virtual -> guest-physical translations, kept across its attempts (as a
  // TLB keeps them for one instruction), so a replay costs no translation hypercall.
  struct Translation {
    std::uint64_t gva_page = 0;
    bool write = false;
    std::uint64_t gpa_page = 0;
  };
  std::vector<Translation> translations;
};

class MshvVcpu final : public Vcpu {
 public:
  // Two steps, so that nothing throws and a failure costs no VP (MSHV never destroys one): construct,
  // start_kick_resender(), and only then create the VP and attach() its descriptor.
  MshvVcpu(std::uint32_t index, std::shared_ptr<PartitionMemory> memory, int kick_signal) noexcept;
  // ResourceExhausted when no thread can be started (EAGAIN: RLIMIT_NPROC, the kernel's thread limit),
  // else the errno's kind. Never throws.
  Result<void> start_kick_resender() noexcept;
  void attach(MshvFd vp) noexcept { vp_ = std::move(vp); }
  ~MshvVcpu() override;
  // Pinned: the resender thread holds `this`.
  MshvVcpu(const MshvVcpu&) = delete;
  MshvVcpu& operator=(const MshvVcpu&) = delete;

  [[nodiscard]] std::uint32_t id() const noexcept override { return index_; }
  Result<Exit> run() override;
  Result<void> complete_read(std::span<const std::uint8_t> data) override;
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

  // Guest-virtual -> guest-physical through HVCALL_TRANSLATE_VIRTUAL_ADDRESS.
  Result<std::uint64_t> translate(std::uint64_t gva, bool write) const;

 private:
  // Returns an exit for the VMM, or nullopt to resume the guest.
  Result<std::optional<Exit>> on_io_intercept(const std::uint8_t* payload);
  Result<std::optional<Exit>> on_memory_intercept(const std::uint8_t* payload);
  Result<std::optional<Exit>> finish_io();
  Result<std::optional<Exit>> next_io_chunk();
  Result<std::optional<Exit>> emulate();
  Result<void> set(std::span<const abi::HvRegisterAssoc> assocs) const;
  void resend_kicks();

  MshvFd vp_;
  std::uint32_t index_;
  std::shared_ptr<PartitionMemory> memory_;
  std::optional<PendingIo> io_;
  std::optional<PendingEmulation> emulation_;
  std::vector<std::uint8_t> exit_data_;           // the bytes an IoExit/MmioExit span points at
  std::array<std::uint64_t, 1> internal_data_{};  // the words an InternalErrorExit's data points at
  std::optional<std::vector<std::uint8_t>> read_answer_;
  std::vector<CpuidEntry> cpuid_;

  // Kick protocol: MSHV_RUN_VP has no immediate_exit, so a signal that lands just before the ioctl
  // would be lost; a resender thread repeats it until run() acknowledges the kick.
  std::atomic<bool> kick_pending_{false};
  std::atomic<pid_t> running_tid_{0};
  std::mutex kick_mutex_;
  std::condition_variable kick_cv_;
  bool stopping_ = false;
  int kick_signal_;  // VmOptions::kick_signal, resolved and installed
  std::thread resender_;
};

// The MSHV kick signal when VmOptions::kick_signal is 0: SIGRTMIN + 1.
int default_mshv_kick_signal() noexcept;
// Installs the no-op handler for the MSHV kick signal `sig`, once per process; Busy if the VMM
// already handles `sig`.
Result<int> install_mshv_kick_signal(int sig);
// Unblocks `sig` in the calling thread, once per thread and signal.
void unblock_kick_signal_in_this_thread(int sig) noexcept;

}  // namespace hv::mshv::detail
