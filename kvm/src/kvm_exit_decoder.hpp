#pragma once
// Turns the kvm_run page after KVM_RUN into an hv::Exit. The page is written by the kernel, but hvkit
// still checks every size and offset it uses against the mapping before forming a span.

#include <cstddef>
#include <cstdint>
#include <span>

#include "hv/error.hpp"
#include "hv/exit.hpp"

namespace hv::kvm::detail {

// Where the answer to an IN or MMIO read goes; empty when the exit needs none.
struct PendingRead {
  std::uint8_t* destination = nullptr;
  std::uint32_t length = 0;
};

struct DecodedExit {
  Exit exit;
  PendingRead pending_read;
};

// `page` is the whole kvm_run mapping. Reads are pre-filled with 0xff (open bus) so an unanswered read
// is deterministic. Internal error when the kernel's offsets or sizes do not fit the mapping.
Result<DecodedExit> decode_exit(std::span<std::uint8_t> page) noexcept;

}  // namespace hv::kvm::detail
