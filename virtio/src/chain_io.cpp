#include "hv/virtio/chain_io.hpp"

#include <algorithm>

namespace hv::virtio {

template <class Access>
Result<void> ChainIo::walk(bool writable, std::uint64_t offset, std::uint64_t size, Access access) {
  const std::uint64_t total = writable ? chain_.writable_bytes : chain_.readable_bytes;
  if (offset > total || size > total - offset) {
    return fail(ErrorKind::OutOfRange, "virtio::ChainIo", "access past the end of the chain's buffers");
  }
  Cursor& cursor = writable ? writable_cursor_ : readable_cursor_;
  if (offset < cursor.position) cursor = Cursor{};  // behind the cursor: start again
  std::size_t index = cursor.index;
  std::uint64_t position = cursor.position;  // stream offset of buffers[index]'s first byte
  std::uint64_t done = 0;
  while (done < size) {
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
      const std::uint64_t n = std::min<std::uint64_t>(b.length - within, size - done);
      auto more = access(b.address + within, done, n);
      if (!more) return tl::unexpected(more.error());
      if (!*more) break;  // stopped before this buffer: the next access resumes here
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
  return walk(false, offset, out.size(), [&](std::uint64_t gpa, std::uint64_t done, std::uint64_t n) -> Result<bool> {
    if (auto r = memory_.read(gpa, out.subspan(done, n)); !r) return tl::unexpected(r.error());
    return true;
  });
}

Result<void> ChainIo::write(std::uint64_t offset, std::span<const std::uint8_t> in) {
  return walk(true, offset, in.size(), [&](std::uint64_t gpa, std::uint64_t done, std::uint64_t n) -> Result<bool> {
    if (auto r = memory_.write(gpa, in.subspan(done, n)); !r) return tl::unexpected(r.error());
    return true;
  });
}

Result<std::size_t> ChainIo::readable_views(std::uint64_t offset, std::uint64_t len,
                                            std::span<std::span<const std::uint8_t>> out) {
  std::size_t count = 0;
  auto walked = walk(false, offset, len, [&](std::uint64_t gpa, std::uint64_t, std::uint64_t n) -> Result<bool> {
    if (count == out.size()) return false;
    auto view = memory_.view(gpa, n);
    if (!view) return tl::unexpected(view.error());
    out[count++] = *view;
    return true;
  });
  if (!walked) return tl::unexpected(walked.error());
  return count;
}

Result<std::size_t> ChainIo::writable_views(std::uint64_t offset, std::uint64_t len, std::span<GuestSegment> out) {
  std::size_t count = 0;
  auto walked = walk(true, offset, len, [&](std::uint64_t gpa, std::uint64_t, std::uint64_t n) -> Result<bool> {
    if (count == out.size()) return false;
    auto slice = memory_.slice(gpa, n);
    if (!slice) return tl::unexpected(slice.error());
    out[count++] = GuestSegment{gpa, *slice};
    return true;
  });
  if (!walked) return tl::unexpected(walked.error());
  return count;
}

void ChainIo::mark_written(std::span<const GuestSegment> segments) const {
  // slice() marks what it returns; the views were checked when they were made, so it succeeds.
  for (const GuestSegment& s : segments) (void)memory_.slice(s.gpa, s.host.size());
}

}  // namespace hv::virtio
