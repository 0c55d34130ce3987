#pragma once
// One simulated VP: a KVM vCPU single-stepped so that the state before every instruction is known.
// RUN_VP runs until an instruction needs the VMM, completes that instruction's KVM exit internally,
// puts the registers back as they were before it, and returns the intercept message docs/mshv-abi.md
// describes (§9; RIP of the intercepted instruction, nothing completed: the VMM emulates and advances).

#include <cstdint>
#include <memory>
#include <mutex>

#include "hv/hypervisor.hpp"
#include "mshv_abi.hpp"
#include "sim_register_page.hpp"

namespace hv::mshv::sim {

class Partition;

// The first device access of an instruction, as the inner KVM vCPU reported it.
struct IoAccess {
  std::uint16_t port = 0;
  std::uint8_t size = 0;
  AccessDirection direction = AccessDirection::Read;
};
struct MmioAccess {
  std::uint64_t address = 0;
  AccessDirection direction = AccessDirection::Read;
};

class Vp {
 public:
  Vp(std::uint32_t index, std::shared_ptr<Partition> partition, std::unique_ptr<Vcpu> vcpu)
      : index_(index), partition_(std::move(partition)), vcpu_(std::move(vcpu)) {}

  long run(abi::RunVp& out);
  long get_state(abi::GetSetVpState& args);
  long set_state(const abi::GetSetVpState& args);
  // HVCALL_GET/SET_VP_REGISTERS on this VP. `names`/`assocs` are the hypercall's rep array.
  std::uint16_t get_registers(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> out,
                              std::uint16_t& done);
  std::uint16_t set_registers(std::span<const abi::HvRegisterAssoc> assocs, std::uint16_t& done);
  // CPUID results registered with HVCALL_REGISTER_INTERCEPT_RESULT, applied before the next run.
  void register_cpuid(const CpuidEntry& entry);
  std::uint16_t translate(std::uint64_t gva, bool write, std::uint64_t& gpa, std::uint32_t& result);
  // Whether the LAPIC's SVR has the APIC software-enable bit (8) set; read without the VP's lock (KVM
  // serializes it with the running vCPU).
  bool lapic_software_enabled() const;
  std::shared_ptr<Partition> partition() const { return partition_; }
  // The VP's register page, shared with every mapping of it (a mapping outlives the descriptor).
  std::shared_ptr<RegisterPageStorage> register_page() const { return register_page_; }
  // SimulatorOptions::register_page_valid: false keeps isvalid 0 after every intercept.
  void set_register_page_valid(bool valid) {
    std::lock_guard lock(mutex_);
    register_page_valid_ = valid;
  }
  std::uint32_t index() const noexcept { return index_; }

 private:
  long build_io_intercept(const GeneralRegisters& before, const IoAccess& io, abi::HvMessage& message);
  long build_memory_intercept(const GeneralRegisters& before, const MmioAccess& mmio, abi::HvMessage& message);
  long header_only_message(const GeneralRegisters& before, const SpecialRegisters& sregs, std::uint32_t type,
                           std::uint8_t length, abi::HvMessage& message) const;
  void fill_header(const GeneralRegisters& before, const SpecialRegisters& sregs, std::uint8_t length,
                   std::uint8_t access, abi::HvInterceptHeader& header) const;
  long apply_cpuid();

  std::uint32_t index_;
  std::shared_ptr<Partition> partition_;
  std::unique_ptr<Vcpu> vcpu_;
  std::mutex mutex_;  // VP ioctls serialize, as the kernel's VP mutex does
  bool stepping_ = false;
  std::vector<CpuidEntry> cpuid_overrides_;
  bool cpuid_dirty_ = false;
  std::shared_ptr<RegisterPageStorage> register_page_ = std::make_shared<RegisterPageStorage>();
  bool register_page_valid_ = true;
};

}  // namespace hv::mshv::sim
