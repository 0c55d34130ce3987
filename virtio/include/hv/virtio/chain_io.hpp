#pragma once
// A descriptor chain's buffers as two byte streams, the way devices with a header-data-status layout
// see them (virtio 1.2 §2.6.4 "message framing": a device must not assume any particular split of a
// request across descriptors): the device-readable bytes in order, and the device-writable bytes in
// order. Every access goes through GuestMemory at the time it is made.
//
// Each stream keeps a cursor at the buffer where its last access ended, so a device that reads or
// writes a stream front to back (as virtio-blk does, in 64 KiB chunks) looks at each buffer about
// once: O(buffers + accesses) for the whole request, not O(buffers × accesses). An access before the
// cursor starts again from the first buffer.
//
// A stack cursor for one request: it keeps references to the memory and the chain it was given and
// must not outlive the call that made it (the device that owns the memory). It is never stored.

#include <cstddef>
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
  Result<void> read(std::uint64_t offset, std::span<std::uint8_t> out);
  // Writes writable bytes [offset, offset + in.size()) of the chain; OutOfRange past its end.
  Result<void> write(std::uint64_t offset, std::span<const std::uint8_t> in);
  [[nodiscard]] std::uint64_t readable() const noexcept { return chain_.readable_bytes; }
  [[nodiscard]] std::uint64_t writable() const noexcept { return chain_.writable_bytes; }
  // How many buffers the accesses so far have looked at (tests: the cost of a sequential pass).
  [[nodiscard]] std::uint64_t buffers_visited() const noexcept { return visited_; }

 private:
  // Where a stream's last access ended: the index in chain_.buffers of the first buffer that access
  // did not finish, and the stream offset at which that buffer's bytes begin.
  struct Cursor {
    std::size_t index = 0;
    std::uint64_t position = 0;
  };
  template <class Span, class Access>
  Result<void> walk(bool writable, std::uint64_t offset, Span data, Access access);
  const GuestMemory& memory_;
  const DescriptorChain& chain_;
  Cursor readable_cursor_, writable_cursor_;
  std::uint64_t visited_ = 0;
};

}  // namespace hv::virtio
