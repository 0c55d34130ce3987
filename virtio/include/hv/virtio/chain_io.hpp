#pragma once
// A descriptor chain's buffers as two byte streams, the way devices with a header-data-status layout
// see them (virtio 1.2 §2.6.4 "message framing": a device must not assume any particular split of a
// request across descriptors): the device-readable bytes in order, and the device-writable bytes in
// order. Every access goes through GuestMemory at the time it is made.

#include <cstdint>
#include <span>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/descriptor_chain.hpp"

namespace hv::virtio {

class ChainIo {
 public:
  ChainIo(const GuestMemory& memory, const DescriptorChain& chain) : memory_(memory), chain_(chain) {}
  // Copies readable bytes [offset, offset + out.size()) of the chain; OutOfRange past its end.
  Result<void> read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // Writes writable bytes [offset, offset + in.size()) of the chain; OutOfRange past its end.
  Result<void> write(std::uint64_t offset, std::span<const std::uint8_t> in) const;
  [[nodiscard]] std::uint64_t readable() const noexcept { return chain_.readable_bytes; }
  [[nodiscard]] std::uint64_t writable() const noexcept { return chain_.writable_bytes; }

 private:
  template <class Span, class Access>
  Result<void> walk(bool writable, std::uint64_t offset, Span data, Access access) const;
  const GuestMemory& memory_;
  const DescriptorChain& chain_;
};

}  // namespace hv::virtio
