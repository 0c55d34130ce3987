#include "kvm_exit_decoder.hpp"

#include <cstring>

#include "kvm_abi.hpp"

namespace hv::kvm::detail {

namespace {

constexpr std::uint8_t kOpenBus = 0xff;

bool valid_io_size(std::uint8_t size) noexcept { return size == 1 || size == 2 || size == 4; }
bool valid_mmio_size(std::uint32_t size) noexcept { return size == 1 || size == 2 || size == 4 || size == 8; }

Result<DecodedExit> malformed(const char* what) noexcept { return fail(ErrorKind::Internal, "KVM_RUN", what); }

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
      IoExit exit{.port = io.port,
                  .size = io.size,
                  .direction = io.direction == KVM_EXIT_IO_OUT ? AccessDirection::Write : AccessDirection::Read,
                  .count = io.count,
                  .data = data};
      PendingRead pending;
      if (exit.direction == AccessDirection::Read) {
        std::memset(data.data(), kOpenBus, data.size());
        pending = {data.data(), static_cast<std::uint32_t>(length)};
      }
      return DecodedExit{exit, pending};
    }
    case KVM_EXIT_MMIO: {
      auto& mmio = run->mmio;
      if (!valid_mmio_size(mmio.len)) return malformed("MMIO exit with an invalid length");
      std::span<std::uint8_t> data(mmio.data, mmio.len);
      MmioExit exit{.address = mmio.phys_addr,
                    .size = static_cast<std::uint8_t>(mmio.len),
                    .direction = mmio.is_write != 0 ? AccessDirection::Write : AccessDirection::Read,
                    .data = data};
      PendingRead pending;
      if (exit.direction == AccessDirection::Read) {
        std::memset(data.data(), kOpenBus, data.size());
        pending = {data.data(), mmio.len};
      }
      return DecodedExit{exit, pending};
    }
    case KVM_EXIT_HLT: return DecodedExit{HaltExit{}, {}};
    case KVM_EXIT_SHUTDOWN: return DecodedExit{ShutdownExit{}, {}};
    case KVM_EXIT_INTR: return DecodedExit{InterruptedExit{}, {}};
    case KVM_EXIT_SYSTEM_EVENT: {
      SystemEventKind kind = SystemEventKind::Other;
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: kind = SystemEventKind::Shutdown; break;
        case KVM_SYSTEM_EVENT_RESET: kind = SystemEventKind::Reset; break;
        case KVM_SYSTEM_EVENT_CRASH: kind = SystemEventKind::Crash; break;
        default: break;
      }
      return DecodedExit{SystemEventExit{kind, run->system_event.type}, {}};
    }
    case KVM_EXIT_INTERNAL_ERROR:
      return DecodedExit{InternalErrorExit{.code = run->internal.suberror, .detail = 0}, {}};
    case KVM_EXIT_FAIL_ENTRY:
      return DecodedExit{
          InternalErrorExit{.code = KVM_EXIT_FAIL_ENTRY, .detail = run->fail_entry.hardware_entry_failure_reason}, {}};
    default: return DecodedExit{UnknownExit{.backend = "kvm", .raw_reason = run->exit_reason}, {}};
  }
}

}  // namespace hv::kvm::detail
