#include "kvm_vcpu.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <variant>
#include <sys/mman.h>
#include <unistd.h>

#include <gsl/narrow>
#include <gsl/util>

#include "kvm_abi.hpp"
#include "kvm_fxsave_layout.hpp"
#include "kvm_ioctl.hpp"
#include "kvm_kick_signal.hpp"
#include "kvm_register_conversion.hpp"
#include "kvm_var_struct.hpp"

namespace hv::kvm::detail {

namespace {
// Bounds on caller-sized requests: generous for any real VMM, small enough to never be a DoS.
constexpr std::size_t kMaxMsrsPerCall = 256;
constexpr std::size_t kMaxCpuidEntries = 1024;
// KVM_RUN may answer EAGAIN transiently; more than this many in a row is a real failure.
constexpr int kMaxConsecutiveEagain = 16;

}  // namespace

// --- kvm_run mapping -------------------------------------------------------------------------------

Result<KvmRunMapping> KvmRunMapping::map(int vcpu_fd, std::size_t size) {
  if (size < sizeof(kvm_run)) {
    return fail(ErrorKind::Internal, "KVM_GET_VCPU_MMAP_SIZE", "mmap size " + std::to_string(size) + " is too small");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
  if (p == MAP_FAILED) return fail_errno("mmap(kvm_run)", errno);
  // Sound: a fresh shared mapping of the vCPU fd, `size` bytes, owned by this object from here.
  return KvmRunMapping(static_cast<std::uint8_t*>(p), size);
}

KvmRunMapping::KvmRunMapping(KvmRunMapping&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

KvmRunMapping::~KvmRunMapping() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

std::uint8_t& KvmRunMapping::immediate_exit() const noexcept { return address_[offsetof(kvm_run, immediate_exit)]; }

// --- run and kick ----------------------------------------------------------------------------------

int enter_kvm_run(int vcpu_fd) noexcept { return ::ioctl(vcpu_fd, abi::kRun, 0); }

KvmVcpu::KvmVcpu(UniqueFd fd, KvmRunMapping run, KvmVcpuConfig config,
                 std::shared_ptr<const GuestMemory> memory) noexcept
    : memory_(std::move(memory)), fd_(std::move(fd)), run_(std::move(run)), config_(config) {}

// The first run() on a thread blocks the kick signal there and tells KVM to unblock it only while
// this vCPU is inside KVM_RUN. A kick that reaches the thread elsewhere stays pending and makes the
// next KVM_RUN return EINTR at once, which run() tells apart from a real kick by kick_pending.
Result<void> KvmVcpu::adopt_calling_thread(pid_t tid) {
  const sigset_t inside_run = block_kick_signal_in_this_thread(config_.kick_signal);
  VarStruct<abi::SignalMaskHeader, std::uint8_t> mask(abi::kKernelSigsetSize);
  mask.header()->len = abi::kKernelSigsetSize;
  // glibc's sigset_t begins with the kernel's 64-bit set of signals 1..64.
  static_assert(sizeof(sigset_t) >= abi::kKernelSigsetSize);
  std::memcpy(mask.entries().data(), &inside_run, abi::kKernelSigsetSize);
  auto r = kvm_ioctl(fd_.get(), abi::kSetSignalMask, "KVM_SET_SIGNAL_MASK", mask.data());
  if (!r) return tl::unexpected(r.error());
  masked_tid_ = tid;
  return {};
}

// Kick protocol (no kick is lost; kicks before a run() coalesce into one InterruptedExit):
//   kick():  kick_pending = true; immediate_exit = 1; signal running_tid if set.
//   run():   publish running_tid, then KVM_RUN; on EINTR, consume the pending kick signal, clear
//            immediate_exit, then consume kick_pending. Both sides order their store before their load (seq_cst), so
//            either kick() sees the tid and signals, or KVM_RUN sees immediate_exit and returns at once.
// Device accesses: KVM completes an IN, an MMIO read or the rest of a string instruction only on the
// next KVM_RUN (before it looks at immediate_exit), so the loop below always re-enters after one and
// returns only on an exit that leaves nothing pending: the vCPU's state is architectural whenever
// run() has returned.
Result<Exit> KvmVcpu::run_guest(IoHandler& io) {
  thread_local const pid_t this_tid = ::gettid();
  if (masked_tid_ != this_tid) {
    if (auto r = adopt_calling_thread(this_tid); !r) return tl::unexpected(r.error());
  }
  running_tid_.store(this_tid, std::memory_order_seq_cst);
  auto leave = gsl::finally([this] { running_tid_.store(0, std::memory_order_relaxed); });
  std::atomic_ref<std::uint8_t> immediate_exit(run_.immediate_exit());
  for (;;) {
    int eagain_left = kMaxConsecutiveEagain;
    for (;;) {
      if (enter_(fd_.get()) == 0) break;
      const int err = errno;
      if (err == EINTR) {
        drain_kick_signal(config_.kick_signal);
        immediate_exit.store(0, std::memory_order_relaxed);
        if (kick_pending_.exchange(false, std::memory_order_acq_rel)) return InterruptedExit{};
        continue;  // a signal meant for someone else (a profiler, a debugger): keep running
      }
      if (err == EAGAIN && eagain_left-- > 0) continue;
      return fail_errno("KVM_RUN", err, "vcpu " + std::to_string(config_.id));
    }
    auto decoded = decode_exit(run_.bytes());
    if (!decoded) return tl::unexpected(std::move(decoded.error()));
    if (auto* pio = std::get_if<KvmIoAccess>(&*decoded)) {
      // One call per element of a string instruction, in order.
      for (std::uint32_t i = 0; i < pio->count; ++i) {
        const auto element = pio->data.subspan(std::size_t{i} * pio->size, pio->size);
        if (pio->direction == AccessDirection::Read) {
          io.pio_read(pio->port, element);
        } else {
          io.pio_write(pio->port, element);
        }
      }
      continue;
    }
    if (auto* mmio = std::get_if<KvmMmioAccess>(&*decoded)) {
      if (mmio->direction == AccessDirection::Read) {
        io.mmio_read(mmio->address, mmio->data);
      } else {
        io.mmio_write(mmio->address, mmio->data);
      }
      continue;
    }
    return std::get<Exit>(*decoded);
  }
}

void KvmVcpu::kick() noexcept {
  kick_pending_.store(true, std::memory_order_release);
  std::atomic_ref<std::uint8_t>(run_.immediate_exit()).store(1, std::memory_order_seq_cst);
  const pid_t tid = running_tid_.load(std::memory_order_seq_cst);
  if (tid != 0) ::tgkill(::getpid(), tid, config_.kick_signal);
}

// --- registers -------------------------------------------------------------------------------------

Result<GeneralRegisters> KvmVcpu::get_registers() const {
  kvm_regs regs{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetRegs, "KVM_GET_REGS", &regs); !r) return tl::unexpected(r.error());
  return from_kvm(regs);
}

Result<void> KvmVcpu::set_registers(const GeneralRegisters& regs) {
  kvm_regs k = to_kvm(regs);
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetRegs, "KVM_SET_REGS", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<SpecialRegisters> KvmVcpu::get_special_registers() const {
  kvm_sregs sregs{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetSregs, "KVM_GET_SREGS", &sregs); !r) return tl::unexpected(r.error());
  return from_kvm(sregs);
}

Result<void> KvmVcpu::set_special_registers(const SpecialRegisters& sregs) {
  // Read first so KVM's pending-interrupt bitmap, which hvkit does not model, survives the write.
  kvm_sregs current{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetSregs, "KVM_GET_SREGS", &current); !r) return tl::unexpected(r.error());
  kvm_sregs k = to_kvm(sregs, current);
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetSregs, "KVM_SET_SREGS", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<FpuState> KvmVcpu::get_fpu() const {
  if (config_.has_xsave) {
    auto area = get_xsave();
    if (!area) return tl::unexpected(area.error());
    if (area->bytes.size() < fxsave::kMinimumSize)
      return fail(ErrorKind::Internal, "Vcpu::get_fpu", "XSAVE area too small");
    return fxsave::read(area->bytes);
  }
  // Without XSAVE, KVM_GET_FPU is all there is; it does not report MXCSR.
  kvm_fpu fpu{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetFpu, "KVM_GET_FPU", &fpu); !r) return tl::unexpected(r.error());
  return from_kvm(fpu);
}

Result<void> KvmVcpu::set_fpu(const FpuState& fpu) {
  if (config_.has_xsave) {
    auto area = get_xsave();
    if (!area) return tl::unexpected(area.error());
    if (area->bytes.size() < fxsave::kMinimumSize)
      return fail(ErrorKind::Internal, "Vcpu::set_fpu", "XSAVE area too small");
    fxsave::write(area->bytes, fpu);
    return set_xsave(*area);
  }
  kvm_fpu k = to_kvm(fpu);
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetFpu, "KVM_SET_FPU", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<XsaveArea> KvmVcpu::get_xsave() const {
  if (!config_.has_xsave) return fail(ErrorKind::Unsupported, "Vcpu::get_xsave", "KVM_CAP_XSAVE is absent");
  XsaveArea area;
  area.bytes.assign(config_.xsave_size, 0);
  // KVM_GET_XSAVE2 writes KVM_CAP_XSAVE2 bytes; plain KVM_GET_XSAVE exactly 4096.
  const bool extended = config_.xsave_size > sizeof(abi::Xsave);
  auto r = kvm_ioctl(fd_.get(), extended ? abi::kGetXsave2 : abi::kGetXsave, "KVM_GET_XSAVE", area.bytes.data());
  if (!r) return tl::unexpected(r.error());
  return area;
}

Result<void> KvmVcpu::set_xsave(const XsaveArea& xsave) {
  if (!config_.has_xsave) return fail(ErrorKind::Unsupported, "Vcpu::set_xsave", "KVM_CAP_XSAVE is absent");
  if (xsave.bytes.size() != config_.xsave_size) {
    return fail(ErrorKind::InvalidArgument, "Vcpu::set_xsave",
                "XSAVE area must be " + std::to_string(config_.xsave_size) + " bytes, got " +
                    std::to_string(xsave.bytes.size()));
  }
  // KVM reads at most xsave_size bytes from this buffer; it is exactly that long. KVM_SET_XSAVE is an
  // _IOW ioctl: the kernel only reads through the pointer, which ioctl(2) takes as non-const.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): see above
  auto r = kvm_ioctl(fd_.get(), abi::kSetXsave, "KVM_SET_XSAVE", const_cast<std::uint8_t*>(xsave.bytes.data()));
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> KvmVcpu::get_msrs(std::span<MsrEntry> entries) const {
  if (entries.empty() || entries.size() > kMaxMsrsPerCall) {
    return fail(ErrorKind::InvalidArgument, "Vcpu::get_msrs", "between 1 and 256 MSRs per call");
  }
  VarStruct<abi::MsrsHeader, kvm_msr_entry> buffer(entries.size());
  buffer.header()->nmsrs = gsl::narrow<__u32>(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i)
    buffer.entries()[i] = {.index = entries[i].index, .reserved = 0, .data = 0};
  auto done = kvm_ioctl(fd_.get(), abi::kGetMsrs, "KVM_GET_MSRS", buffer.data());
  if (!done) return tl::unexpected(done.error());
  // KVM stops at the first MSR it cannot read and returns how many it did.
  if (static_cast<std::size_t>(*done) != entries.size()) {
    return fail(ErrorKind::Unsupported, "KVM_GET_MSRS", "MSR " + hex(entries[*done].index) + " is not readable");
  }
  for (std::size_t i = 0; i < entries.size(); ++i) entries[i].value = buffer.entries()[i].data;
  return {};
}

Result<void> KvmVcpu::set_msrs(std::span<const MsrEntry> entries) {
  if (entries.empty() || entries.size() > kMaxMsrsPerCall) {
    return fail(ErrorKind::InvalidArgument, "Vcpu::set_msrs", "between 1 and 256 MSRs per call");
  }
  VarStruct<abi::MsrsHeader, kvm_msr_entry> buffer(entries.size());
  buffer.header()->nmsrs = gsl::narrow<__u32>(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    buffer.entries()[i] = {.index = entries[i].index, .reserved = 0, .data = entries[i].value};
  }
  auto done = kvm_ioctl(fd_.get(), abi::kSetMsrs, "KVM_SET_MSRS", buffer.data());
  if (!done) return tl::unexpected(done.error());
  if (static_cast<std::size_t>(*done) != entries.size()) {
    return fail(ErrorKind::InvalidArgument, "KVM_SET_MSRS",
                "MSR " + hex(entries[*done].index) + " rejected value " + hex(entries[*done].value));
  }
  return verify_tsc_write(entries);
}

// Some hosts (seen on KVM running on PVM) accept a TSC write and ignore it. A VMM restoring a guest
// must not be told that worked: read the TSC back and report the host's limitation instead.
Result<void> KvmVcpu::verify_tsc_write(std::span<const MsrEntry> entries) const {
  constexpr std::uint64_t kTolerance = std::uint64_t{1} << 32;  // > 1 s of ticks at any real TSC rate
  for (const auto& e : entries) {
    if (e.index != msr::kTsc) continue;
    MsrEntry now[] = {{msr::kTsc, 0}};
    if (auto r = get_msrs(now); !r) return r;
    if (now[0].value < e.value || now[0].value - e.value > kTolerance) {
      return fail(ErrorKind::Unsupported, "KVM_SET_MSRS(IA32_TSC)",
                  "this host accepted TSC " + hex(e.value) + " but the TSC reads " + hex(now[0].value) +
                      ": it does not apply TSC writes");
    }
  }
  return {};
}

Result<void> KvmVcpu::set_cpuid(std::span<const CpuidEntry> entries) {
  if (entries.size() > kMaxCpuidEntries) {
    return fail(ErrorKind::InvalidArgument, "Vcpu::set_cpuid", "at most 1024 CPUID entries");
  }
  VarStruct<abi::Cpuid2Header, kvm_cpuid_entry2> buffer(entries.size());
  buffer.header()->nent = gsl::narrow<__u32>(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) buffer.entries()[i] = to_kvm(entries[i]);
  auto r = kvm_ioctl(fd_.get(), abi::kSetCpuid2, "KVM_SET_CPUID2", buffer.data());
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::vector<CpuidEntry>> KvmVcpu::get_cpuid() const {
  for (std::size_t capacity = 64; capacity <= kMaxCpuidEntries; capacity *= 2) {
    VarStruct<abi::Cpuid2Header, kvm_cpuid_entry2> buffer(capacity);
    buffer.header()->nent = gsl::narrow<__u32>(capacity);
    auto r = kvm_ioctl(fd_.get(), abi::kGetCpuid2, "KVM_GET_CPUID2", buffer.data());
    if (!r) {
      if (r.error().sys_errno() == E2BIG) continue;
      return tl::unexpected(r.error());
    }
    std::vector<CpuidEntry> out;
    for (const auto& e : buffer.entries().first(std::min<std::size_t>(buffer.header()->nent, capacity))) {
      out.push_back(from_kvm(e));
    }
    return out;
  }
  return fail(ErrorKind::ResourceExhausted, "KVM_GET_CPUID2", "more than 1024 CPUID entries");
}

Result<LapicState> KvmVcpu::get_lapic() const {
  if (!config_.has_lapic) {
    return fail(ErrorKind::Unsupported, "Vcpu::get_lapic", "the VM was created without in_kernel_irqchip");
  }
  kvm_lapic_state k{};
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetLapic, "KVM_GET_LAPIC", &k); !r) return tl::unexpected(r.error());
  LapicState out;
  std::memcpy(out.regs.data(), k.regs, sizeof k.regs);
  return out;
}

Result<void> KvmVcpu::set_lapic(const LapicState& lapic) {
  if (!config_.has_lapic) {
    return fail(ErrorKind::Unsupported, "Vcpu::set_lapic", "the VM was created without in_kernel_irqchip");
  }
  kvm_lapic_state k{};
  static_assert(sizeof k.regs == sizeof lapic.regs);
  std::memcpy(k.regs, lapic.regs.data(), sizeof k.regs);
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetLapic, "KVM_SET_LAPIC", &k); !r) return tl::unexpected(r.error());
  return {};
}

Result<void> KvmVcpu::set_single_step(bool enabled) {
  kvm_guest_debug debug{};
  debug.control = enabled ? (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP) : 0;
  if (auto r = kvm_ioctl(fd_.get(), abi::kSetGuestDebug, "KVM_SET_GUEST_DEBUG", &debug); !r)
    return tl::unexpected(r.error());
  return {};
}

}  // namespace hv::kvm::detail
