#pragma once
// Turns the kvm_run page after KVM_RUN into a device access or an hv::Exit. The page is written by the kernel, but
// hvkit still checks every size and offset it uses against the mapping before forming a span.

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "hv/error.hpp"
#include "hv/exit.hpp"
#include "hv/io_handler.hpp"

namespace hv::kvm::detail {

// A port I/O exit: `count` elements of `size` bytes in `data`, inside the kvm_run mapping. For a read
// the backend fills `data` (pre-filled with 0xff) and the next KVM_RUN gives it to the guest.
struct KvmIoAccess {
  std::uint16_t port = 0;
  std::uint8_t size = 0;
  AccessDirection direction = AccessDirection::Read;
  std::uint32_t count = 0;
  std::span<std::uint8_t> data;
};

// An MMIO exit: one access of `data.size()` bytes, answered the same way.
struct KvmMmioAccess {
  std::uint64_t address = 0;
  AccessDirection direction = AccessDirection::Read;
  std::span<std::uint8_t> data;
};

// What one KVM_RUN ended with: a device access for the IoHandler, or an exit for the VMM.
using DecodedExit = std::variant<KvmIoAccess, KvmMmioAccess, Exit>;

// `page` is the whole kvm_run mapping. Reads are pre-filled with 0xff (open bus) so an unanswered read
// is deterministic. Internal error when the kernel's offsets or sizes do not fit the mapping.
Result<DecodedExit> decode_exit(std::span<std::uint8_t> page) noexcept;

}  // namespace hv::kvm::detail
