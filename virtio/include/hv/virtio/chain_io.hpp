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
// For data that goes straight between guest memory and a file (hv/virtio/file_scatter.hpp), the same
// walk yields host views of a stream's bytes instead of copying them.
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

// A piece of one writable buffer as host memory, with its guest address (to mark it written again
// once data has landed in it: see ChainIo::mark_written).
struct GuestSegment {
  std::uint64_t gpa = 0;
  std::span<std::uint8_t> host;
};

class ChainIo {
 public:
  ChainIo(const GuestMemory& memory, const DescriptorChain& chain) : memory_(memory), chain_(chain) {}
  // Copies readable bytes [offset, offset + out.size()) of the chain; OutOfRange past its end.
  Result<void> read(std::uint64_t offset, std::span<std::uint8_t> out);
  // Writes writable bytes [offset, offset + in.size()) of the chain; OutOfRange past its end.
  Result<void> write(std::uint64_t offset, std::span<const std::uint8_t> in);
  // Host views of readable bytes [offset, offset + len) in order, one per piece of a buffer: fills `out`
  // from its start and returns how many it filled; they cover fewer than `len` bytes only when `out`
  // is full. The checks of read(): OutOfRange past the stream's end, each buffer inside one region
  // (GuestMemory::view). Valid while the memory is, within the call that made them.
  Result<std::size_t> readable_views(std::uint64_t offset, std::uint64_t len,
                                     std::span<std::span<const std::uint8_t>> out);
  // The same for writable bytes, with the checks of write(): each buffer inside one region devices may
  // write (GuestMemory::slice, which also marks the range written for dirty logging).
  Result<std::size_t> writable_views(std::uint64_t offset, std::uint64_t len, std::span<GuestSegment> out);
  // Marks `segments` written again, after data has landed in them through their host views: a dirty
  // log harvested between writable_views() and the transfer must not lose the page.
  void mark_written(std::span<const GuestSegment> segments) const;
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
  // Visits stream bytes [offset, offset + size) buffer piece by buffer piece: access(gpa, done, n)
  // returns true to go on, false to stop before that piece (no room for it), or an error.
  template <class Access>
  Result<void> walk(bool writable, std::uint64_t offset, std::uint64_t size, Access access);
  const GuestMemory& memory_;
  const DescriptorChain& chain_;
  Cursor readable_cursor_, writable_cursor_;
  std::uint64_t visited_ = 0;
};

}  // namespace hv::virtio
