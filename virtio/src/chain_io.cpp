#include "hv/virtio/chain_io.hpp"

#include <algorithm>

namespace hv::virtio {

template <class Span, class Access>
Result<void> ChainIo::walk(bool writable, std::uint64_t offset, Span data, Access access) {
  const std::uint64_t total = writable ? chain_.writable_bytes : chain_.readable_bytes;
  if (offset > total || data.size() > total - offset) {
    return fail(ErrorKind::OutOfRange, "virtio::ChainIo", "access past the end of the chain's buffers");
  }
  Cursor& cursor = writable ? writable_cursor_ : readable_cursor_;
  if (offset < cursor.position) cursor = Cursor{};  // behind the cursor: start again
  std::size_t index = cursor.index;
  std::uint64_t position = cursor.position;  // stream offset of buffers[index]'s first byte
  std::size_t done = 0;
  while (done < data.size()) {
    // The byte counts promise more bytes than the buffers hold only in a hand-made chain.
    if (index >= chain_.buffers.size()) {
      return fail(ErrorKind::OutOfRange, "virtio::ChainIo", "the chain's byte count exceeds its buffers");
    }
    const Buffer& b = chain_.buffers[index];
    ++visited_;
    if (b.device_writable != writable) {
      ++index;
      continue;
    }
    const std::uint64_t end = position + b.length;
    if (offset + done < end) {
      const std::uint64_t within = offset + done - position;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b.length - within, data.size() - done));
      if (auto r = access(b.address + within, data.subspan(done, n)); !r) return r;
      done += n;
      if (offset + done < end) break;  // ended inside this buffer: the next access resumes here
    }
    position = end;
    ++index;
  }
  cursor = Cursor{index, position};
  return {};
}

Result<void> ChainIo::read(std::uint64_t offset, std::span<std::uint8_t> out) {
  return walk(false, offset, out,
              [this](std::uint64_t gpa, std::span<std::uint8_t> part) { return memory_.read(gpa, part); });
}

Result<void> ChainIo::write(std::uint64_t offset, std::span<const std::uint8_t> in) {
  return walk(true, offset, in,
              [this](std::uint64_t gpa, std::span<const std::uint8_t> part) { return memory_.write(gpa, part); });
}

}  // namespace hv::virtio
