#pragma once
// What the backend fuzz targets share: a frontend's messages decoded from fuzzer bytes, with the
// descriptors a frontend would attach (duplicates of a 64 KiB memfd for memory regions, of an eventfd
// for kicks, calls and errors), so that the backend gets past its descriptor-count checks and maps,
// polls and signals real descriptors.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/vhost/message.hpp"

namespace hvfuzz {

inline constexpr std::size_t kFuzzRamBytes = 0x10000;

inline int fuzz_memfd() {
  static const int fd = [] {
    const int f = ::memfd_create("vhost-fuzz-ram", MFD_CLOEXEC);
    if (f < 0 || ::ftruncate(f, kFuzzRamBytes) != 0) __builtin_trap();
    return f;
  }();
  return fd;
}

inline int fuzz_eventfd() {
  static const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) __builtin_trap();
  return fd;
}

// One message: request (1 byte, 1..kLastRequest + a few unknown), flags (1 byte: NEED_REPLY, REPLY),
// descriptor count (1 byte, 0..8) and kind (memfd or eventfd), payload length (1 byte, times 2, so
// up to 510: more than any request carries) and the payload.
inline hv::vhost::Message take_message(FuzzInput& in) {
  hv::vhost::Message m;
  m.header.request = in.take<std::uint8_t>() % (hv::vhost::kLastRequest + 4);
  const auto flags = in.take<std::uint8_t>();
  m.header.flags = hv::vhost::kVersion | ((flags & 1) != 0 ? hv::vhost::kFlagNeedReply : 0U) |
                   ((flags & 2) != 0 ? hv::vhost::kFlagReply : 0U);
  const auto fds = in.take<std::uint8_t>();
  const auto length = std::size_t{in.take<std::uint8_t>()} * 2;
  const auto payload = in.bytes(length);
  m.payload.assign(payload.begin(), payload.end());
  m.header.size = static_cast<std::uint32_t>(m.payload.size());
  const int source = (fds & 0x80) != 0 ? fuzz_eventfd() : fuzz_memfd();
  for (int i = 0; i < (fds & 0x7f) % 9; ++i) m.fds.emplace_back(::fcntl(source, F_DUPFD_CLOEXEC, 0));
  return m;
}

}  // namespace hvfuzz
