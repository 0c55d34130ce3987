// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "mshv_vcpu.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <gsl/gsl>
#include <tuple>
#include <string>
#include <system_error>
#include <type_traits>

#include "mshv_cpuid.hpp"
#include "mshv_registers.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;

namespace {

constexpr const char* kRun = "Vcpu::run";
// Bytes of string IO one intercept may move before the guest re-executes the same instruction for the
// rest (as the CPU stops a REP between iterations for an interrupt): bounds the work between two
// looks at a pending kick.
constexpr std::uint64_t kStringBytesPerIntercept = std::uint64_t{64} * 1024;

extern "C" void ignore_mshv_kick(int /*signal*/) {}

pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

std::uint64_t width_mask(std::uint8_t bytes) { return bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1; }

// Writes the low `size` bytes of `value` into `reg` the way IN does: AL/AX keep the rest of RAX,
// a 32-bit IN zero-extends into RAX.
std::uint64_t merge_in(std::uint64_t rax, std::uint64_t value, std::uint8_t size) {
  if (size == 4) return value & 0xffffffffULL;
  return (rax & ~width_mask(size)) | (value & width_mask(size));
}

// What the intercept header says about the CPU mode (execution state bits and CS.L/CS.D) [§9.3].
x86::CpuMode mode_of(const abi::HvInterceptHeader& h) {
  const bool long_mode = (h.execution_state & abi::kExecStateEferLma) != 0;
  const bool cs_l = (h.cs.attributes & (1U << 13)) != 0;
  const bool cs_d = (h.cs.attributes & (1U << 14)) != 0;
  if (long_mode && cs_l) return x86::CpuMode::Long64;
  if ((h.execution_state & abi::kExecStateCr0Pe) != 0 && cs_d) return x86::CpuMode::Protected32;
  return x86::CpuMode::Real16;
}

// Prefix scan of an IN/OUT/INS/OUTS: address size (67h) and the segment override, if any.
struct IoPrefixes {
  bool address_override = false;
  int segment = -1;  // SegmentRegister index, -1 for none
};
IoPrefixes io_prefixes(std::span<const std::uint8_t> bytes) {
  IoPrefixes p;
  for (std::uint8_t b : bytes) {
    switch (b) {
      case 0x67: p.address_override = true; break;
      case 0x26: p.segment = 0; break;
      case 0x2e: p.segment = 1; break;
      case 0x36: p.segment = 2; break;
      case 0x3e: p.segment = 3; break;
      case 0x64: p.segment = 4; break;
      case 0x65: p.segment = 5; break;
      case 0x66:
      case 0xf2:
      case 0xf3:
      case 0xf0: break;
      default:
        if ((b & 0xf0) == 0x40) break;  // REX
        return p;
    }
  }
  return p;
}

// Translations of one string IO instruction: one hypercall per page rather than per element.
class PageTranslations {
 public:
  PageTranslations(const MshvVcpu& vcpu, bool write) : vcpu_(vcpu), write_(write) {}
  [[nodiscard]] bool writes() const noexcept { return write_; }
  Result<std::uint64_t> translate(std::uint64_t gva) {
    if (!valid_ || (gva >> 12) != gva_page_) {
      auto gpa = vcpu_.translate(gva & ~0xfffULL, write_);
      if (!gpa) return gpa;
      gva_page_ = gva >> 12;
      gpa_page_ = *gpa >> 12;
      valid_ = true;
    }
    return (gpa_page_ << 12) | (gva & 0xfff);
  }

 private:
  const MshvVcpu& vcpu_;
  bool write_;
  bool valid_ = false;
  std::uint64_t gva_page_ = 0, gpa_page_ = 0;
};

// Copies one string IO element between guest-virtual `gva` and `data` (OUTS reads guest memory, INS
// writes it), translating each page it touches: an element may straddle two pages.
Result<void> copy_element(PageTranslations& pages, const PartitionMemory& memory, std::uint64_t gva,
                          std::span<std::uint8_t> data) {
  const std::size_t first = std::min<std::size_t>(data.size(), 4096 - (gva & 0xfff));
  for (const auto& [at, part] : {std::pair{gva, data.first(first)}, std::pair{gva + first, data.subspan(first)}}) {
    if (part.empty()) continue;
    auto gpa = pages.translate(at);
    if (!gpa) return tl::unexpected(gpa.error());
    const bool ok = pages.writes() ? memory.write(*gpa, std::span<const std::uint8_t>(part)) : memory.read(*gpa, part);
    if (!ok) {
      return fail(ErrorKind::Unsupported, kRun,
                  std::string(pages.writes() ? "INS into " : "OUTS from ") + hex(*gpa) + ", which is not " +
                      (pages.writes() ? "writable RAM" : "RAM"));
    }
  }
  return {};
}

// LinearMemory for emulating one intercepted instruction: RAM through the partition's mappings,
// every other guest-physical address through the VMM's IoHandler, at once and in order.
class InterceptMemory final : public x86::LinearMemory {
 public:
  InterceptMemory(const MshvVcpu& vcpu, const PartitionMemory& memory, IoHandler& io)
      : vcpu_(vcpu), memory_(memory), io_(io) {}

  Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override { return access(linear, data); }
  Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override { return access(linear, data); }

 private:
  // The instruction's guest-virtual -> guest-physical translations, kept for its whole execution as
  // a TLB keeps them (a REP MOVS touches a handful of pages; beyond the cache, translate again).
  struct Translation {
    std::uint64_t gva_page = 0;
    std::uint64_t gpa_page = 0;
    bool write = false;
  };
  static constexpr gsl::index kCachedTranslations = 4;

  Result<std::uint64_t> translate(std::uint64_t linear, bool write) {
    for (gsl::index i = 0; i < cached_; ++i) {
      const auto& t = gsl::at(translations_, i);
      if (t.gva_page == linear >> 12 && t.write == write) return (t.gpa_page << 12) | (linear & 0xfff);
    }
    auto gpa = vcpu_.translate(linear, write);
    if (gpa) {
      gsl::at(translations_, next_slot_) = {linear >> 12, *gpa >> 12, write};
      next_slot_ = (next_slot_ + 1) % kCachedTranslations;
      cached_ = std::min(cached_ + 1, kCachedTranslations);
    }
    return gpa;
  }

  // Byte is const for a write (the bytes are only read from) and mutable for a read (they are filled in).
  template <class Byte>
  Result<void> access(std::uint64_t linear, std::span<Byte> data) {
    constexpr bool write = std::is_const_v<Byte>;
    const std::size_t size = data.size();
    auto gpa = translate(linear, write);
    if (!gpa) return tl::unexpected(gpa.error());
    // An access that crosses into the next page: each page translated on its own.
    const std::size_t first = std::min<std::size_t>(size, 4096 - (linear & 0xfff));
    if (first < size) {
      auto second = translate(linear + first, write);
      if (!second) return tl::unexpected(second.error());
      const bool ram = memory_.contains(*gpa, first, write) && memory_.contains(*second, size - first, write);
      if (ram) {
        return copy(*gpa, data.first(first)) && copy(*second, data.subspan(first))
                   ? Result<void>{}
                   : fail(ErrorKind::Internal, kRun, "RAM changed during emulation");
      }
      // A device access split over two pages: emulated as one access at the first address.
    } else if (memory_.contains(*gpa, size, write)) {
      return copy(*gpa, data) ? Result<void>{} : fail(ErrorKind::Internal, kRun, "RAM changed during emulation");
    }
    if (size > 8) return fail(ErrorKind::Internal, kRun, "an emulated access wider than 8 bytes");
    if constexpr (write) {
      io_.mmio_write(*gpa, data);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});  // what an unclaimed bus answers
      io_.mmio_read(*gpa, data);
    }
    return {};
  }
  template <class Byte>
  bool copy(std::uint64_t gpa, std::span<Byte> data) const {
    if constexpr (std::is_const_v<Byte>) {
      return memory_.write(gpa, data);
    } else {
      return memory_.read(gpa, data);
    }
  }

  const MshvVcpu& vcpu_;
  const PartitionMemory& memory_;
  IoHandler& io_;
  std::array<Translation, kCachedTranslations> translations_{};
  gsl::index cached_ = 0;
  gsl::index next_slot_ = 0;
};

}  // namespace

int default_mshv_kick_signal() noexcept { return SIGRTMIN + 1; }

Result<int> install_mshv_kick_signal(int sig) {
  static std::mutex mutex;
  static std::bitset<NSIG> installed;
  std::lock_guard lock(mutex);
  if (sig <= 0 || sig >= NSIG) return fail(ErrorKind::InvalidArgument, "install_mshv_kick_signal", "no such signal");
  if (installed.test(static_cast<std::size_t>(sig))) return sig;
  const std::string op = "sigaction(" + std::to_string(sig) + ")";
  struct sigaction current {};
  if (::sigaction(sig, nullptr, &current) != 0) return fail_errno(op, errno);
  const bool unset = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
  const bool ours = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == ignore_mshv_kick;
  if (!unset && !ours) {
    return fail(ErrorKind::Busy, "install_mshv_kick_signal",
                "signal " + std::to_string(sig) + " already has a handler; hvkit's MSHV backend needs it to kick " +
                    "vCPUs (VmOptions::kick_signal chooses another)");
  }
  struct sigaction action {};
  action.sa_handler = ignore_mshv_kick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: RUN_VP must return EINTR, not restart
  if (::sigaction(sig, &action, nullptr) != 0) return fail_errno(op, errno);
  installed.set(static_cast<std::size_t>(sig));
  return sig;
}

// The kick signal must reach a thread inside run(): a VMM may have blocked it there. Once per thread
// and signal (a syscall per exit would cost more than the exit).
void unblock_kick_signal_in_this_thread(int sig) noexcept {
  thread_local std::bitset<NSIG> unblocked;
  if (unblocked.test(static_cast<std::size_t>(sig))) return;
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
  unblocked.set(static_cast<std::size_t>(sig));
}

MshvVcpu::MshvVcpu(std::uint32_t index, std::shared_ptr<PartitionMemory> memory, int kick_signal) noexcept
    : index_(index), memory_(std::move(memory)), kick_signal_(kick_signal) {}

Result<void> MshvVcpu::start_kick_resender() noexcept {
  constexpr const char* op = "Vm::create_vcpu: starting the kick resender thread";
  try {
    resender_ = std::thread([this] { resend_kicks(); });
    return {};
  } catch (const std::system_error& e) {
    const int err = e.code().value();
    if (err == EAGAIN) return fail(ErrorKind::ResourceExhausted, op, e.what());
    return fail_errno(op, err, e.what());
  } catch (const std::exception& e) {  // std::bad_alloc: no memory for the thread's state
    return fail(ErrorKind::ResourceExhausted, op, e.what());
  }
}

MshvVcpu::~MshvVcpu() {
  if (!resender_.joinable()) return;
  {
    std::lock_guard lock(kick_mutex_);
    stopping_ = true;
  }
  kick_cv_.notify_all();
  resender_.join();
}

void MshvVcpu::kick() noexcept {
  {
    std::lock_guard lock(kick_mutex_);
    kick_pending_.store(true, std::memory_order_seq_cst);
  }
  kick_cv_.notify_all();
}

// Signals the thread inside run() every millisecond while a kick is pending: one signal can land
// between run()'s check and the RUN_VP ioctl and be lost; the next one interrupts the ioctl. The tid is
// read and signalled under the mutex run() clears it with, so no signal reaches the thread after it
// has left run() (where it would interrupt the VMM's own system calls).
void MshvVcpu::resend_kicks() {
  std::unique_lock lock(kick_mutex_);
  while (!stopping_) {
    kick_cv_.wait(lock, [this] { return stopping_ || (kick_pending_.load() && running_tid_.load() != 0); });
    while (!stopping_ && kick_pending_.load() && running_tid_.load() != 0) {
      ::syscall(SYS_tgkill, ::getpid(), running_tid_.load(), kick_signal_);
      kick_cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
}

Result<void> MshvVcpu::set(std::span<const abi::HvRegisterAssoc> assocs) const {
  return set_vp_registers(vp_, index_, assocs);
}

Result<std::uint64_t> MshvVcpu::translate(std::uint64_t gva, bool write) const {
  abi::HvInputTranslateVirtualAddress in{};
  in.vp_index = index_;
  in.control_flags =
      (write ? abi::kTranslateValidateWrite : abi::kTranslateValidateRead) | abi::kTranslatePrivilegeExempt;
  in.gva_page = gva >> 12;
  std::uint8_t input[sizeof in];
  std::memcpy(input, &in, sizeof in);
  std::uint8_t output[sizeof(abi::HvOutputTranslateVirtualAddress)] = {};
  auto r = hypercall(vp_, abi::kHvcallTranslateVirtualAddress, 0, input, output, "HVCALL_TRANSLATE_VIRTUAL_ADDRESS");
  if (!r) return tl::unexpected(r.error());
  abi::HvOutputTranslateVirtualAddress out{};
  std::memcpy(&out, output, sizeof out);
  // The guest's page tables gave a GPA: unmapped (MMIO), or mapped without the access (a read-only
  // region's write intercept), or claimed by an intercept [§6]. The backend routes the GPA itself.
  // Anything else is a guest page fault hvkit cannot inject.
  const bool gpa_valid =
      out.result_code == abi::kTranslateResultSuccess || out.result_code == abi::kTranslateResultGpaUnmapped ||
      out.result_code == abi::kTranslateResultGpaNoReadAccess ||
      out.result_code == abi::kTranslateResultGpaNoWriteAccess || out.result_code == abi::kTranslateResultIntercept;
  if (!gpa_valid) {
    return fail(ErrorKind::InvalidArgument, kRun,
                "guest address " + hex(gva) + " does not translate (result " + std::to_string(out.result_code) +
                    "): a guest page fault");
  }
  return (out.gpa_page << 12) | (gva & 0xfff);
}

Result<Exit> MshvVcpu::run_guest(IoHandler& io) {
  unblock_kick_signal_in_this_thread(kick_signal_);
  struct Running {
    MshvVcpu& vcpu;
    explicit Running(MshvVcpu& v) : vcpu(v) {
      bool kick_waiting = false;
      {
        std::lock_guard lock(vcpu.kick_mutex_);
        vcpu.running_tid_.store(this_thread_id());
        kick_waiting = vcpu.kick_pending_.load();
      }
      // A kick that came before run() now has a thread to signal; otherwise the resender sleeps on
      // (waking it on every exit would cost a context switch per exit).
      if (kick_waiting) vcpu.kick_cv_.notify_all();
    }
    ~Running() {
      std::lock_guard lock(vcpu.kick_mutex_);
      vcpu.running_tid_.store(0);
    }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
  } running(*this);

  for (;;) {
    if (kick_pending_.exchange(false)) return InterruptedExit{};
    abi::RunVp message{};
    bool interrupted = false;
    if (auto r = vp_.call_once(abi::kRunVp, &message, "MSHV_RUN_VP", interrupted); !r) return tl::unexpected(r.error());
    if (interrupted) continue;  // a kick shows as kick_pending; anything else: run again [§4]
    abi::HvMessageHeader header{};
    std::memcpy(&header, message.msg_buf, sizeof header);
    const std::uint8_t* payload = message.msg_buf + sizeof header;
    Result<void> handled;
    switch (header.message_type) {
      case abi::kMsgX64IoPortIntercept: handled = on_io_intercept(payload, io); break;
      case abi::kMsgUnmappedGpa:
      case abi::kMsgGpaIntercept: handled = on_memory_intercept(payload, io); break;
      case abi::kMsgX64Halt: {
        // The header's RIP is the HLT's [§9.3]; whether the hypervisor has moved past it is not
        // documented (§14), so RIP is advanced here unless it already was.
        abi::HvInterceptHeader h{};
        std::memcpy(&h, payload, sizeof h);
        const std::uint32_t rip_name = reg::kRip;
        abi::HvRegisterValue rip{};
        if (auto r = get_vp_registers(vp_, index_, std::span(&rip_name, 1), std::span(&rip, 1)); !r)
          return tl::unexpected(r.error());
        if (rip.low == h.rip) {
          const abi::HvRegisterAssoc past =
              assoc(reg::kRip, h.rip + std::max<std::uint8_t>(h.instruction_length_and_cr8 & 0xf, 1));
          if (auto r = set(std::span(&past, 1)); !r) return tl::unexpected(r.error());
        }
        return HaltExit{};
      }
      case abi::kMsgUnrecoverableException: return ShutdownExit{};
      case abi::kMsgUnsupportedFeature: {
        // vp_index u32, feature_code u32, feature_parameter u64 [§9.2]
        std::uint32_t feature = 0;
        std::memcpy(&feature, payload + 4, sizeof feature);
        std::memcpy(internal_data_.data(), payload + 8, sizeof(std::uint64_t));
        return InternalErrorExit{.code = header.message_type,
                                 .detail = feature,
                                 .name = "HVMSG_UNSUPPORTED_FEATURE",
                                 .data = internal_data_,
                                 .instruction = {}};
      }
      case abi::kMsgInvalidVpRegisterValue:
        return InternalErrorExit{.code = header.message_type,
                                 .detail = 0,
                                 .name = "HVMSG_INVALID_VP_REGISTER_VALUE",
                                 .data = {},
                                 .instruction = {}};
      case abi::kMsgX64ApicEoi: break;  // no userspace interrupt controller listens for EOIs
      default: return UnknownExit{.backend = "mshv", .raw_reason = header.message_type};
    }
    if (!handled) return tl::unexpected(std::move(handled.error()));
  }
}

Result<void> MshvVcpu::on_io_intercept(const std::uint8_t* payload, IoHandler& io) {
  abi::HvIoPortIntercept m{};
  std::memcpy(&m, payload, sizeof m);
  const std::uint8_t size = m.access_info & abi::kIoAccessSizeMask;
  if (size != 1 && size != 2 && size != 4)
    return fail(ErrorKind::Internal, kRun, "IO intercept with access size " + std::to_string(size));
  const std::uint8_t length = m.header.instruction_length_and_cr8 & 0xf;
  // RIP + 0 would run the same IO instruction forever.
  if (length == 0)
    return fail(ErrorKind::Internal, kRun, "IO intercept without an instruction length at RIP " + hex(m.header.rip));
  if ((m.access_info & abi::kIoAccessString) != 0) return on_string_io(m, io);
  const auto mode = mode_of(m.header);
  std::uint64_t next_rip = m.header.rip + length;
  if (mode != x86::CpuMode::Long64) next_rip &= mode == x86::CpuMode::Protected32 ? 0xffffffffULL : 0xffffULL;
  std::array<std::uint8_t, 4> data{};
  const auto element = std::span(data).first(size);
  if (m.header.intercept_access_type == abi::kAccessRead) {
    data.fill(0xff);  // what an unclaimed port answers
    io.pio_read(m.port_number, element);
    std::uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof value);
    const std::array regs = {assoc(reg::kRip, next_rip), assoc(reg::kRax, merge_in(m.rax, value, size))};
    return set(regs);
  }
  std::memcpy(data.data(), &m.rax, size);
  io.pio_write(m.port_number, element);
  const auto rip = assoc(reg::kRip, next_rip);
  return set(std::span(&rip, 1));
}

// INS/OUTS: the VMM moves the data between the device and guest memory [§12.1], one IoHandler call
// per element, at most kStringBytesPerIntercept per intercept.
Result<void> MshvVcpu::on_string_io(const abi::HvIoPortIntercept& m, IoHandler& io) {
  const std::uint8_t size = m.access_info & abi::kIoAccessSizeMask;
  const bool in = m.header.intercept_access_type == abi::kAccessRead;
  const bool rep = (m.access_info & abi::kIoAccessRep) != 0;
  const auto mode = mode_of(m.header);
  const bool long_mode = mode == x86::CpuMode::Long64;
  std::uint64_t next_rip = m.header.rip + (m.header.instruction_length_and_cr8 & 0xf);
  if (!long_mode) next_rip &= mode == x86::CpuMode::Protected32 ? 0xffffffffULL : 0xffffULL;
  const auto prefixes =
      io_prefixes(std::span(m.instruction_bytes, std::min<std::size_t>(m.instruction_byte_count, 16)));
  const bool wide =
      long_mode ? !prefixes.address_override : (mode == x86::CpuMode::Protected32) != prefixes.address_override;
  const std::uint8_t address_size = long_mode ? (prefixes.address_override ? 4 : 8) : (wide ? 4 : 2);
  const std::uint64_t index_mask = width_mask(address_size);
  std::uint64_t segment_base = 0;
  if (in || prefixes.segment == 0) {
    segment_base = long_mode ? 0 : m.es.base;  // INS writes ES:rDI, never overridable; OUTS with an ES override
  } else if (prefixes.segment < 0 || prefixes.segment == 3) {
    segment_base = long_mode ? 0 : m.ds.base;
  } else {
    static constexpr std::array<std::uint32_t, 6> kNames = {reg::kEs, reg::kCs, reg::kSs, reg::kDs, reg::kFs, reg::kGs};
    abi::HvRegisterValue value{};
    const std::uint32_t name = gsl::at(kNames, prefixes.segment);
    if (auto r = get_vp_registers(vp_, index_, std::span(&name, 1), std::span(&value, 1)); !r)
      return tl::unexpected(r.error());
    abi::HvSegmentRegister s{};
    std::memcpy(&s, &value, sizeof s);
    segment_base = (long_mode && prefixes.segment < 4) ? 0 : s.base;
  }
  const std::uint64_t count = rep ? (m.rcx & index_mask) : 1;
  const std::uint64_t budget = std::min<std::uint64_t>(count, kStringBytesPerIntercept / size);
  const bool down = (m.header.rflags & (1ULL << 10)) != 0;
  std::uint64_t index = in ? m.rdi : m.rsi;
  PageTranslations pages(*this, in);
  std::uint64_t done = 0;
  for (; done < budget; ++done) {
    std::array<std::uint8_t, 4> data{};
    const auto element = std::span(data).first(size);
    const std::uint64_t gva = segment_base + (index & index_mask);
    Result<void> moved;
    if (in) {
      data.fill(0xff);
      io.pio_read(m.port_number, element);
      moved = copy_element(pages, *memory_, gva, element);
    } else {
      moved = copy_element(pages, *memory_, gva, element);
      if (moved) io.pio_write(m.port_number, element);
    }
    // An element that cannot move: the ones before it stand; the guest re-executes the instruction
    // and the next intercept reports the error (as the CPU reports a fault after k iterations).
    if (!moved) {
      if (done == 0) return moved;
      break;
    }
    const std::uint64_t stepped = down ? index - size : index + size;
    index = (index & ~index_mask) | (stepped & index_mask);
  }
  // 32-bit register writes zero-extend in 64-bit mode.
  const auto fix = [&](std::uint64_t v) { return address_size == 4 ? v & 0xffffffffULL : v; };
  std::array<abi::HvRegisterAssoc, 3> regs{};
  gsl::index n = 0;
  gsl::at(regs, n++) = assoc(in ? reg::kRax + 7 : reg::kRax + 6, fix(index));
  if (rep) gsl::at(regs, n++) = assoc(reg::kRax + 1, fix((m.rcx & ~index_mask) | ((m.rcx - done) & index_mask)));
  if (done == count) gsl::at(regs, n++) = assoc(reg::kRip, next_rip);  // otherwise the guest continues it
  return set(std::span(regs).first(static_cast<std::size_t>(n)));
}

Result<void> MshvVcpu::on_memory_intercept(const std::uint8_t* payload, IoHandler& io) {
  abi::HvMemoryIntercept m{};
  std::memcpy(&m, payload, sizeof m);
  if (m.header.intercept_access_type == abi::kAccessExecute) {
    return fail(ErrorKind::Unsupported, kRun,
                "the guest executes from GPA " + hex(m.guest_physical_address) + ", which is not RAM (RIP " +
                    hex(m.header.rip) + ")");
  }
  const auto mode = mode_of(m.header);
  // The message carries RIP, RFLAGS and CS but not the other registers the instruction may use.
  const auto names = general_register_names();
  GeneralRegisterValues values{};
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return tl::unexpected(r.error());
  GeneralRegisters before = to_general(values);
  before.rip = m.header.rip;
  before.rflags = m.header.rflags;
  // Decode from one copy: the bytes the hypervisor read at RIP and, only if they do not decode and it
  // gave fewer than 16, the missing tail read from guest memory after them, a page at a time. The
  // given bytes are never read again: the guest (another vCPU) may have changed them since.
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t given = std::min<std::size_t>(m.instruction_byte_count, bytes.size());
  std::memcpy(bytes.data(), m.instruction_bytes, given);
  std::size_t count = given;
  auto insn = x86::decode(std::span(bytes).first(count), mode);
  if (!insn && count < bytes.size()) {
    const std::uint64_t rip_linear = m.header.cs.base + m.header.rip;
    while (count < bytes.size()) {
      const std::uint64_t at = rip_linear + count;
      const std::size_t n = std::min<std::size_t>(bytes.size() - count, 4096 - (at & 0xfff));
      auto gpa = translate(at, false);
      if (!gpa || !memory_->read(*gpa, std::span(bytes).subspan(count, n))) break;
      count += n;
    }
    insn = x86::decode(std::span(bytes).first(count), mode);
  }
  if (!insn) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string shown;
    for (const std::uint8_t b : std::span(bytes).first(count)) {
      if (!shown.empty()) shown += ' ';
      shown += kDigits[b >> 4];
      shown += kDigits[b & 0xf];
    }
    return fail(insn.error().kind(), kRun,
                "cannot emulate the instruction at RIP " + hex(m.header.rip) +
                    " (bytes: " + (shown.empty() ? std::string("none readable") : shown) +
                    "): " + std::string(insn.error().message()));
  }
  // Segment bases: in 64-bit mode only FS and GS have one, and only an override selects them.
  x86::SegmentBases segments{};
  segments[static_cast<std::size_t>(x86::SegmentRegister::Cs)] = m.header.cs.base;
  const bool long_mode = mode == x86::CpuMode::Long64;
  const auto seg = [](const x86::Operand& o) {
    return o.kind == x86::Operand::Kind::Memory ? o.memory.segment : x86::SegmentRegister::Ds;
  };
  const bool needs_fs_gs =
      seg(insn->source) == x86::SegmentRegister::Fs || seg(insn->source) == x86::SegmentRegister::Gs ||
      seg(insn->destination) == x86::SegmentRegister::Fs || seg(insn->destination) == x86::SegmentRegister::Gs;
  if (!long_mode || needs_fs_gs) {
    const std::array<std::uint32_t, 5> seg_names = {reg::kEs, reg::kSs, reg::kDs, reg::kFs, reg::kGs};
    const std::array<x86::SegmentRegister, 5> which = {x86::SegmentRegister::Es, x86::SegmentRegister::Ss,
                                                       x86::SegmentRegister::Ds, x86::SegmentRegister::Fs,
                                                       x86::SegmentRegister::Gs};
    std::array<abi::HvRegisterValue, 5> seg_values{};
    if (auto r = get_vp_registers(vp_, index_, seg_names, seg_values); !r) return tl::unexpected(r.error());
    for (gsl::index i = 0; i < std::ssize(which); ++i) {
      abi::HvSegmentRegister s{};
      std::memcpy(&s, &gsl::at(seg_values, i), sizeof s);
      segments[static_cast<std::size_t>(gsl::at(which, i))] = s.base;
    }
  }
  // One execution: each device access reaches the IoHandler as the emulator makes it. A REP string
  // instruction that stops at the iteration limit leaves RIP on itself and the guest continues it.
  GeneralRegisters after = before;
  InterceptMemory memory(*this, *memory_, io);
  auto done = x86::execute(*insn, mode, segments, after, memory);
  if (!done) {
    return fail(done.error().kind(), kRun,
                "emulating " + std::string(x86::to_string(insn->mnemonic)) + " at RIP " + hex(before.rip) + ": " +
                    std::string(done.error().message()));
  }
  // Write back what changed (RIP always: unless a REP stopped early, it moved past the instruction).
  const auto old_values = from_general(before);
  const auto new_values = from_general(after);
  GeneralRegisterAssocs changed{};
  gsl::index n = 0;
  for (gsl::index i = 0; i < std::ssize(new_values); ++i) {
    if (gsl::at(new_values, i).value.low != gsl::at(old_values, i).value.low)
      gsl::at(changed, n++) = gsl::at(new_values, i);
  }
  if (n == 0) return {};
  return set(std::span(changed).first(static_cast<std::size_t>(n)));
}

Result<GeneralRegisters> MshvVcpu::get_registers() const {
  const auto names = general_register_names();
  GeneralRegisterValues values{};
  if (auto r = get_vp_registers(vp_, index_, names, values); !r) return tl::unexpected(r.error());
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
