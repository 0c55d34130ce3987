#include "hv/virtio/chain_io.hpp"

#include <algorithm>

namespace hv::virtio {

template <class Span, class Access>
Result<void> ChainIo::walk(bool writable, std::uint64_t offset, Span data, Access access) const {
  const std::uint64_t total = writable ? chain_.writable_bytes : chain_.readable_bytes;
  if (offset > total || data.size() > total - offset) {
    return fail(ErrorKind::OutOfRange, "virtio::ChainIo", "access past the end of the chain's buffers");
  }
  std::uint64_t position = 0;  // stream offset of the current buffer's first byte
  std::size_t done = 0;
  for (const auto& b : chain_.buffers) {
    if (b.device_writable != writable) continue;
    if (done == data.size()) break;
    const std::uint64_t end = position + b.length;
    if (offset + done < end) {
      const std::uint64_t within = offset + done - position;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b.length - within, data.size() - done));
      if (auto r = access(b.address + within, data.subspan(done, n)); !r) return r;
      done += n;
    }
    position = end;
  }
  return {};
}

Result<void> ChainIo::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  return walk(false, offset, out,
              [this](std::uint64_t gpa, std::span<std::uint8_t> part) { return memory_.read(gpa, part); });
}

Result<void> ChainIo::write(std::uint64_t offset, std::span<const std::uint8_t> in) const {
  return walk(true, offset, in,
              [this](std::uint64_t gpa, std::span<const std::uint8_t> part) { return memory_.write(gpa, part); });
}

}  // namespace hv::virtio
