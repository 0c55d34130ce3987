// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "sim_vp.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <variant>

#include "hv/kvm/kvm.hpp"
#include "sim_guest_access.hpp"
#include "sim_partition.hpp"
#include "sim_registers.hpp"

namespace hv::mshv::sim {

namespace {

constexpr std::uint64_t kCr0Pe = 1, kEferLma = 1ULL << 10;

// RUN_VP blocks every signal while it steps the guest and returns EINTR as soon as one that was
// unblocked on entry is pending, the way the kernel's RUN_VP returns when a signal arrives [§4].
class SignalWindow {
 public:
  SignalWindow() {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous_);
  }
  ~SignalWindow() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalWindow(const SignalWindow&) = delete;
  SignalWindow& operator=(const SignalWindow&) = delete;
  bool interrupted() const {
    sigset_t pending;
    sigpending(&pending);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sigismember(&pending, sig) == 1 && sigismember(&previous_, sig) == 0) return true;
    }
    return false;
  }

 private:
  sigset_t previous_{};
};

// The inner KVM vCPU's IoHandler for one step: notes the step's first device access and kicks, so
// run() returns as soon as KVM has completed the instruction; reads get KVM's all-ones.
class FirstAccess final : public IoHandler {
 public:
  explicit FirstAccess(Vcpu& vcpu) : vcpu_(vcpu) {}
  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override {
    note_io(port, data.size(), AccessDirection::Read);
  }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    note_io(port, data.size(), AccessDirection::Write);
  }
  void mmio_read(std::uint64_t address, std::span<std::uint8_t> /*data*/) noexcept override {
    note_mmio(address, AccessDirection::Read);
  }
  void mmio_write(std::uint64_t address, std::span<const std::uint8_t> /*data*/) noexcept override {
    note_mmio(address, AccessDirection::Write);
  }
  [[nodiscard]] const std::optional<IoAccess>& io() const noexcept { return io_; }
  [[nodiscard]] const std::optional<MmioAccess>& mmio() const noexcept { return mmio_; }

 private:
  void note_io(std::uint16_t port, std::size_t size, AccessDirection direction) noexcept {
    if (io_ || mmio_) return;
    io_ = IoAccess{port, static_cast<std::uint8_t>(size), direction};
    vcpu_.kick();
  }
  void note_mmio(std::uint64_t address, AccessDirection direction) noexcept {
    if (io_ || mmio_) return;
    mmio_ = MmioAccess{address, direction};
    vcpu_.kick();
  }
  Vcpu& vcpu_;
  std::optional<IoAccess> io_;
  std::optional<MmioAccess> mmio_;
};

abi::HvSegmentRegister to_hv(const Segment& s) { return {s.base, s.limit, s.selector, segment_attributes(s)}; }

}  // namespace

void Vp::fill_header(const GeneralRegisters& before, const SpecialRegisters& sregs, std::uint8_t length,
                     std::uint8_t access, abi::HvInterceptHeader& h) const {
  h.vp_index = index_;
  h.instruction_length_and_cr8 = static_cast<std::uint8_t>((length & 0xf) | ((sregs.cr8 & 0xf) << 4));
  h.intercept_access_type = access;
  std::uint16_t state = static_cast<std::uint16_t>(sregs.cs.dpl & 3);
  if ((sregs.cr0 & kCr0Pe) != 0) state |= abi::kExecStateCr0Pe;
  if ((sregs.efer & kEferLma) != 0) state |= abi::kExecStateEferLma;
  h.execution_state = state;
  h.cs = to_hv(sregs.cs);
  h.rip = before.rip;
  h.rflags = before.rflags;
}

// A message whose payload is the intercept header alone (HALT, UNRECOVERABLE_EXCEPTION); `regs` gives
// its RIP and RFLAGS.
long Vp::header_only_message(const GeneralRegisters& before, const SpecialRegisters& sregs, std::uint32_t type,
                             std::uint8_t length, abi::HvMessage& message) const {
  abi::HvInterceptHeader h{};
  fill_header(before, sregs, length, abi::kAccessExecute, h);
  message.header.message_type = type;
  message.header.payload_size = sizeof h;
  std::memcpy(message.payload, &h, sizeof h);
  return 0;
}

long Vp::build_io_intercept(const GeneralRegisters& before, const IoAccess& io, abi::HvMessage& message) {
  auto sregs = vcpu_->get_special_registers();
  if (!sregs) return -EIO;
  const PhysicalReader read = [this](std::uint64_t gpa, std::span<std::uint8_t> out) {
    return partition_->read_physical(gpa, out);
  };
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t got = fetch_instruction(*sregs, sregs->cs.base + before.rip, read, bytes);
  const auto decoded = decode_io_instruction(std::span(bytes).first(got), (sregs->efer & kEferLma) != 0);
  if (decoded.length == 0) return -EIO;  // KVM reported IO for bytes that are not an IO instruction
  abi::HvIoPortIntercept p{};
  fill_header(before, *sregs, decoded.length,
              io.direction == AccessDirection::Write ? abi::kAccessWrite : abi::kAccessRead, p.header);
  p.port_number = io.port;
  p.access_info =
      static_cast<std::uint8_t>((io.size & abi::kIoAccessSizeMask) | (decoded.string ? abi::kIoAccessString : 0) |
                                (decoded.rep ? abi::kIoAccessRep : 0));
  p.instruction_byte_count = static_cast<std::uint8_t>(got);
  std::memcpy(p.instruction_bytes, bytes.data(), got);
  p.rax = before.rax;
  p.ds = to_hv(sregs->ds);
  p.es = to_hv(sregs->es);
  p.rcx = before.rcx;
  p.rsi = before.rsi;
  p.rdi = before.rdi;
  message.header.message_type = abi::kMsgX64IoPortIntercept;
  message.header.payload_size = sizeof p;
  std::memcpy(message.payload, &p, sizeof p);
  return 0;
}

long Vp::build_memory_intercept(const GeneralRegisters& before, const MmioAccess& mmio, abi::HvMessage& message) {
  auto sregs = vcpu_->get_special_registers();
  if (!sregs) return -EIO;
  const PhysicalReader read = [this](std::uint64_t gpa, std::span<std::uint8_t> out) {
    return partition_->read_physical(gpa, out);
  };
  abi::HvMemoryIntercept p{};
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t got = fetch_instruction(*sregs, sregs->cs.base + before.rip, read, bytes);
  // The length field is not the decoded instruction's here; VMMs decode the bytes [§12.1].
  fill_header(before, *sregs, 0, mmio.direction == AccessDirection::Write ? abi::kAccessWrite : abi::kAccessRead,
              p.header);
  // Fault injection (hv/mshv/simulator.hpp): KVM gives the simulator no intercept during event delivery.
  if (partition_->faults().interruption_pending.exchange(false))
    p.header.execution_state |= abi::kExecStateInterruptionPending;
  p.instruction_byte_count = static_cast<std::uint8_t>(got);
  std::memcpy(p.instruction_bytes, bytes.data(), got);
  p.guest_physical_address = mmio.address;
  // KVM does not report the GVA; the simulator names it from the instruction's memory operand, as the
  // hypervisor reports it for an access made through a linear address. Where it cannot, both bits
  // stay clear and the VMM translates.
  if (auto gva = intercepted_gva(std::span(bytes).first(got), before, *sregs, mmio.address, read)) {
    p.guest_virtual_address = *gva;
    p.memory_access_info = abi::kMemoryAccessGvaValid | abi::kMemoryAccessGvaGpaValid;
  }
  // A write to a read-only region is a GPA intercept; an access with no region at all is unmapped.
  message.header.message_type = partition_->is_ram(mmio.address) ? abi::kMsgGpaIntercept : abi::kMsgUnmappedGpa;
  message.header.payload_size = sizeof p;
  std::memcpy(message.payload, &p, sizeof p);
  return 0;
}

long Vp::apply_cpuid() {
  if (!cpuid_dirty_) return 0;
  auto current = vcpu_->get_cpuid();
  std::vector<CpuidEntry> table = current ? *current : std::vector<CpuidEntry>{};
  for (const auto& o : cpuid_overrides_) {
    bool replaced = false;
    for (auto& e : table) {
      if (e.function == o.function && (!o.index_significant || e.index == o.index)) {
        e = o;
        replaced = true;
      }
    }
    if (!replaced) table.push_back(o);
  }
  if (!vcpu_->set_cpuid(table)) return -EINVAL;
  cpuid_dirty_ = false;
  return 0;
}

bool Vp::lapic_software_enabled() const {
  auto lapic = vcpu_->get_lapic();
  return lapic && (lapic->regs[0xf1] & 1U) != 0;  // SVR at 0xF0, bit 8
}

void Vp::register_cpuid(const CpuidEntry& entry) {
  std::lock_guard lock(mutex_);
  cpuid_overrides_.push_back(entry);
  cpuid_dirty_ = true;
}

long Vp::run(abi::RunVp& out) {
  std::lock_guard lock(mutex_);
  if (long r = apply_cpuid(); r != 0) return r;
  if (!stepping_) {
    if (!kvm::set_single_step(*vcpu_, true)) return -EIO;
    stepping_ = true;
  }
  // The dirty classes of the register page go into the VP before it runs, and the page is the
  // hypervisor's until the next intercept (isvalid 0) [§10.1].
  if (!apply_register_page(register_page_->bytes, *vcpu_)) return -EIO;
  abi::HvMessage message{};
  SignalWindow signals;
  for (;;) {
    if (signals.interrupted()) return -EINTR;
    auto before = vcpu_->get_registers();
    if (!before) return -EIO;
    FirstAccess first(*vcpu_);
    auto exit = vcpu_->run(first);
    if (!exit) return -EIO;
    long result = 1;  // 1: keep stepping
    if (first.io() || first.mmio()) {
      // KVM has completed the instruction with dummy data (the handler's kick made run() return
      // right after); MSHV leaves it to the VMM, so the registers go back to before it. KVM's dummy
      // writes can only land where the VMM's emulation of the same instruction writes too, and the
      // VMM writes after this.
      result = first.io() ? build_io_intercept(*before, *first.io(), message)
                          : build_memory_intercept(*before, *first.mmio(), message);
      if (result == 0 && !vcpu_->set_registers(*before)) result = -EIO;
    } else if (std::holds_alternative<HaltExit>(*exit)) {
      // Without the hypervisor LAPIC, HLT reaches the VMM, completed (docs/mshv.md, "HLT").
      auto sregs = vcpu_->get_special_registers();
      auto now = vcpu_->get_registers();
      if (!sregs || !now) return -EIO;
      result = header_only_message(*now, *sregs, abi::kMsgX64Halt, 1, message);
    } else if (std::holds_alternative<ShutdownExit>(*exit) || std::holds_alternative<SystemEventExit>(*exit)) {
      auto sregs = vcpu_->get_special_registers();
      if (!sregs) return -EIO;
      result =
          header_only_message(*before, *sregs, abi::kMsgUnrecoverableException, 0, message);  // triple fault [§9.2]
    } else if (std::holds_alternative<InternalErrorExit>(*exit)) {
      return -EIO;
    }
    // KVM_EXIT_DEBUG: one instruction done. Single-stepping steps over HLT without a halt exit, so a
    // one-byte step is checked for being HLT: without the hypervisor LAPIC that is an intercept.
    if (result == 1 && !partition_->lapic()) {
      if (const auto* unknown = std::get_if<UnknownExit>(&*exit);
          unknown != nullptr && unknown->raw_reason == kvm::kDebugExitReason) {
        auto after = vcpu_->get_registers();
        if (after && after->rip == before->rip + 1) {
          auto sregs = vcpu_->get_special_registers();
          if (!sregs) return -EIO;
          const PhysicalReader read = [this](std::uint64_t gpa, std::span<std::uint8_t> o) {
            return partition_->read_physical(gpa, o);
          };
          std::array<std::uint8_t, 16> bytes{};
          if (fetch_instruction(*sregs, sregs->cs.base + before->rip, read, bytes) >= 1 && bytes[0] == 0xf4) {
            // The hypervisor has completed the HLT: the VP's RIP is past it, and the message's header
            // shows the VP as it stands, RIP included (docs/mshv.md, "HLT": unverified on hardware).
            result = header_only_message(*after, *sregs, abi::kMsgX64Halt, 1, message);
          }
        }
      }
    }
    if (result < 0) return result;
    if (result == 0) {
      // The VP's state at the intercept (for IO and memory: as before the instruction) on the page.
      auto regs = vcpu_->get_registers();
      auto sregs = vcpu_->get_special_registers();
      if (!regs || !sregs) return -EIO;
      fill_register_page(register_page_->bytes, *regs, *sregs, register_page_valid_);
      message.header.sender = 0;
      std::memcpy(out.msg_buf, &message, sizeof message);
      return 0;
    }
  }
}

std::uint16_t Vp::get_registers(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> out,
                                std::uint16_t& done) {
  std::lock_guard lock(mutex_);
  RegisterBatch batch(*vcpu_);
  done = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto status = batch.get(names[i], out[i]); status != abi::kHvStatusSuccess) return status;
    ++done;
  }
  return abi::kHvStatusSuccess;
}

std::uint16_t Vp::set_registers(std::span<const abi::HvRegisterAssoc> assocs, std::uint16_t& done) {
  std::lock_guard lock(mutex_);
  // CPUID results registered so far are the VP's CPUID from now on: the inner KVM vCPU checks XFEM
  // (XCR0) against its leaf 0xD.
  if (apply_cpuid() != 0) return abi::kHvStatusInvalidVpState;
  RegisterBatch batch(*vcpu_);
  done = 0;
  std::uint16_t status = abi::kHvStatusSuccess;
  for (const auto& a : assocs) {
    if (a.reserved1 != 0 || a.reserved2 != 0) {
      status = abi::kHvStatusInvalidParameter;
      break;
    }
    status = batch.set(a.name, a.value);
    if (status != abi::kHvStatusSuccess) break;
    ++done;
  }
  // The registers set before a failing one stay set, as reps completed says.
  if (!batch.commit() && status == abi::kHvStatusSuccess) status = abi::kHvStatusInvalidRegisterValue;
  return status;
}

std::uint16_t Vp::translate(std::uint64_t gva, bool write, std::uint64_t& gpa, std::uint32_t& result) {
  std::lock_guard lock(mutex_);
  auto sregs = vcpu_->get_special_registers();
  if (!sregs) return abi::kHvStatusInvalidVpState;
  const PhysicalReader read = [this](std::uint64_t a, std::span<std::uint8_t> out) {
    return partition_->read_physical(a, out);
  };
  switch (sim::translate(*sregs, gva, write, read, gpa)) {
    case TranslateResult::Success: result = abi::kTranslateResultSuccess; break;
    case TranslateResult::PageNotPresent: result = abi::kTranslateResultPageNotPresent; break;
    case TranslateResult::PrivilegeViolation: result = abi::kTranslateResultPrivilegeViolation; break;
  }
  return abi::kHvStatusSuccess;
}

long Vp::get_state(abi::GetSetVpState& args) {
  if (args.buf_ptr == 0 || args.buf_ptr % 4096 != 0 || args.buf_sz == 0 || args.buf_sz % 4096 != 0) return -EINVAL;
  if (args.type >= abi::kVpStateCount) return -EINVAL;
  std::lock_guard lock(mutex_);
  if (args.type == abi::kVpStateXsave) {
    auto xsave = vcpu_->get_xsave();
    if (!xsave) return -EINVAL;
    if (xsave->bytes.size() > args.buf_sz) {
      args.buf_sz = static_cast<std::uint32_t>(xsave->bytes.size());
      return -EINVAL;
    }
    // Note: the real hypervisor returns the compacted format [§4]; KVM gives the standard one.
    std::memcpy(user_pointer(args.buf_ptr), xsave->bytes.data(), xsave->bytes.size());
    args.buf_sz = static_cast<std::uint32_t>(xsave->bytes.size());
    return 0;
  }
  return -EOPNOTSUPP;  // LAPIC, SIMP, SIEFP and timer state are not simulated
}

long Vp::set_state(const abi::GetSetVpState& args) {
  if (args.buf_ptr == 0 || args.buf_ptr % 4096 != 0 || args.buf_sz == 0 || args.buf_sz % 4096 != 0) return -EINVAL;
  if (args.type >= abi::kVpStateCount) return -EINVAL;
  return -EOPNOTSUPP;
}

}  // namespace hv::mshv::sim
