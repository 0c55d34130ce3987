#include "kvm_exit_decoder.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "kvm_abi.hpp"

namespace hv::kvm::detail {

namespace {

constexpr std::uint8_t kOpenBus = 0xff;

bool valid_io_size(std::uint8_t size) noexcept { return size == 1 || size == 2 || size == 4; }
bool valid_mmio_size(std::uint32_t size) noexcept { return size == 1 || size == 2 || size == 4 || size == 8; }

Result<DecodedExit> malformed(const char* what) noexcept { return fail(ErrorKind::Internal, "KVM_RUN", what); }

// KVM_EXIT_INTERNAL_ERROR: `internal` {suberror u32, ndata u32, data u64[16]}; for the EMULATION
// suberror the same bytes are `emulation_failure` {suberror, ndata, flags u64 (= data[0]), insn_size u8,
// insn_bytes u8[15] (= data[1..2])} when flags has KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES.
static_assert(offsetof(kvm_run, internal.ndata) == 36 && offsetof(kvm_run, internal.data) == 40);
static_assert(sizeof(kvm_run::internal.data) == 16 * sizeof(std::uint64_t));
static_assert(offsetof(kvm_run, emulation_failure.flags) == 40 &&
              offsetof(kvm_run, emulation_failure.insn_size) == 48 &&
              offsetof(kvm_run, emulation_failure.insn_bytes) == 49);
static_assert(KVM_INTERNAL_ERROR_EMULATION == 1 && KVM_INTERNAL_ERROR_SIMUL_EX == 2 &&
              KVM_INTERNAL_ERROR_DELIVERY_EV == 3 && KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON == 4);
static_assert(KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES == 1);
constexpr std::size_t kInternalDataWords = 16;
constexpr std::size_t kInstructionBytesMax = 15;

std::string_view internal_error_name(std::uint32_t suberror) noexcept {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "KVM_INTERNAL_ERROR_EMULATION";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "KVM_INTERNAL_ERROR_SIMUL_EX";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "KVM_INTERNAL_ERROR_DELIVERY_EV";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON";
    default: return "KVM_EXIT_INTERNAL_ERROR (unknown suberror)";
  }
}

// The suberror, its data words (ndata of them, at most the 16 the page holds) and, for an emulation
// failure that carries them, the instruction bytes (insn_size of them, at most 15).
InternalErrorExit internal_error(std::span<std::uint8_t> page, const kvm_run& run) noexcept {
  const auto& internal = run.internal;
  const std::size_t words = std::min<std::size_t>(internal.ndata, kInternalDataWords);
  // Sound: the words lie inside the mapping (offset 40, 128 bytes, checked against sizeof(kvm_run)
  // above), 8-byte aligned in a page-aligned mapping; read as the u64s the kernel wrote.
  const std::span<const std::uint64_t> data(
      reinterpret_cast<const std::uint64_t*>(  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): see above
          page.data() + offsetof(kvm_run, internal.data)),
      words);
  InternalErrorExit exit{.code = internal.suberror,
                         .detail = 0,
                         .name = internal_error_name(internal.suberror),
                         .data = data,
                         .instruction = {}};
  // flags, insn_size and insn_bytes are data words 0..2: valid only when ndata covers them.
  if (internal.suberror == KVM_INTERNAL_ERROR_EMULATION && words >= 3) {
    const auto& failure = run.emulation_failure;
    if ((failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
      exit.instruction = std::span<const std::uint8_t>(page.data() + offsetof(kvm_run, emulation_failure.insn_bytes),
                                                       std::min<std::size_t>(failure.insn_size, kInstructionBytesMax));
    }
  }
  return exit;
}

}  // namespace

Result<DecodedExit> decode_exit(std::span<std::uint8_t> page) noexcept {
  if (page.size() < sizeof(kvm_run)) return malformed("kvm_run mapping smaller than struct kvm_run");
  // Sound: the mapping is at least sizeof(kvm_run) bytes, page-aligned (mmap), and the kernel lays a
  // struct kvm_run at its start.
  auto* run =
      reinterpret_cast<kvm_run*>(page.data());  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): sound, see above

  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      const auto& io = run->io;
      if (!valid_io_size(io.size) || io.count == 0 || io.direction > KVM_EXIT_IO_OUT) {
        return malformed("IO exit with an invalid size, count or direction");
      }
      const std::uint64_t length = std::uint64_t{io.size} * io.count;
      if (io.data_offset < sizeof(kvm_run) || io.data_offset > page.size() || length > page.size() - io.data_offset) {
        return malformed("IO exit data lies outside the kvm_run mapping");
      }
      auto data = page.subspan(io.data_offset, length);
      const auto direction = io.direction == KVM_EXIT_IO_OUT ? AccessDirection::Write : AccessDirection::Read;
      if (direction == AccessDirection::Read) std::memset(data.data(), kOpenBus, data.size());
      return KvmIoAccess{.port = io.port, .size = io.size, .direction = direction, .count = io.count, .data = data};
    }
    case KVM_EXIT_MMIO: {
      auto& mmio = run->mmio;
      if (!valid_mmio_size(mmio.len)) return malformed("MMIO exit with an invalid length");
      std::span<std::uint8_t> data(mmio.data, mmio.len);
      const auto direction = mmio.is_write != 0 ? AccessDirection::Write : AccessDirection::Read;
      if (direction == AccessDirection::Read) std::memset(data.data(), kOpenBus, data.size());
      return KvmMmioAccess{.address = mmio.phys_addr, .direction = direction, .data = data};
    }
    case KVM_EXIT_HLT: return Exit{HaltExit{}};
    case KVM_EXIT_SHUTDOWN: return Exit{ShutdownExit{}};
    case KVM_EXIT_INTR: return Exit{InterruptedExit{}};
    case KVM_EXIT_SYSTEM_EVENT: {
      SystemEventKind kind = SystemEventKind::Other;
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: kind = SystemEventKind::Shutdown; break;
        case KVM_SYSTEM_EVENT_RESET: kind = SystemEventKind::Reset; break;
        case KVM_SYSTEM_EVENT_CRASH: kind = SystemEventKind::Crash; break;
        default: break;
      }
      return Exit{SystemEventExit{kind, run->system_event.type}};
    }
    case KVM_EXIT_INTERNAL_ERROR: return Exit{internal_error(page, *run)};
    case KVM_EXIT_FAIL_ENTRY:
      return Exit{InternalErrorExit{.code = KVM_EXIT_FAIL_ENTRY,
                                    .detail = run->fail_entry.hardware_entry_failure_reason,
                                    .name = "KVM_EXIT_FAIL_ENTRY",
                                    .data = {},
                                    .instruction = {}}};
    default: return Exit{UnknownExit{.backend = "kvm", .raw_reason = run->exit_reason}};
  }
}

}  // namespace hv::kvm::detail
