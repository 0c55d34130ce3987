#include "host_mapping.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>

#include <gsl/narrow>

namespace hv::detail {

Result<HostMapping> map_host_memory(std::uint64_t size, Backing backing) {
  HostMapping m;
  int flags = MAP_NORESERVE;
  int fd = -1;
  if (backing == Backing::Memfd) {
    // Guest RAM is never executed by the host: seal it non-executable where the kernel can (6.3+;
    // required when vm.memfd_noexec=2), and fall back on kernels that do not know the flag.
    constexpr unsigned kNoexecSeal = 0x0008U;  // MFD_NOEXEC_SEAL, not in Debian 12's headers
    m.memfd = UniqueFd(::memfd_create("hvkit-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING | kNoexecSeal));
    if (!m.memfd && errno == EINVAL)
      m.memfd = UniqueFd(::memfd_create("hvkit-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!m.memfd) return fail_errno("memfd_create", errno);
    if (::ftruncate(m.memfd.get(), gsl::narrow<off_t>(size)) != 0) return fail_errno("ftruncate(memfd)", errno);
    // The size is fixed from here on: a peer that maps the fd cannot be made to fault by shrinking it.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic in C; F_ADD_SEALS takes an int.
    if (::fcntl(m.memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
      return fail_errno("fcntl(F_ADD_SEALS)", errno);
    }
    flags |= MAP_SHARED;
    fd = m.memfd.get();
  } else {
    flags |= MAP_PRIVATE | MAP_ANONYMOUS;
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) return fail_errno("mmap(guest memory)", errno, std::to_string(size) + " bytes");
  // Sound: mmap returned a fresh mapping of exactly `size` bytes that this HostMapping now owns.
  m.address = static_cast<std::uint8_t*>(p);
  return m;
}

Result<std::uint8_t*> map_shared_fd(int fd, std::uint64_t offset, std::uint64_t size) {
  constexpr const char* op = "mmap(shared guest memory)";
  // Why these checks: the descriptor is another process's, and touching a shared mapping past the end
  // of its file raises SIGBUS in this process, whenever that page is first used (by a device, long
  // after this call). So the file must be a regular file (never a device, whose mmap has side effects)
  // that already covers the whole range. A peer can still shrink a file it did not seal afterwards:
  // that is a residual risk (docs/threat-model/vhost-user.md), which F_SEAL_SHRINK closes for memfds.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno("fstat(shared guest memory)", errno);
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorKind::InvalidArgument, op, "the descriptor is not a regular file (memfd, tmpfs, hugetlbfs)");
  }
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > kMaxOffset || size > kMaxOffset - offset) {
    return fail(ErrorKind::OutOfRange, op, "offset " + hex(offset) + " + size " + hex(size) + " exceeds a file offset");
  }
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < offset + size) {
    return fail(ErrorKind::OutOfRange, op,
                "the file is " + hex(static_cast<std::uint64_t>(std::max<off_t>(st.st_size, 0))) +
                    " bytes, shorter than offset " + hex(offset) + " + size " + hex(size));
  }
  // MAP_SHARED: the point is to see the frontend's guest RAM, and for our writes to reach it.
  // MAP_NORESERVE: no swap reservation for memory the other process owns.
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, gsl::narrow<off_t>(offset));
  if (p == MAP_FAILED) return fail_errno(op, errno, hex(size) + " bytes at offset " + hex(offset));
  // Sound: mmap returned a fresh mapping of exactly `size` bytes; the GuestRegion that gets it owns it.
  return static_cast<std::uint8_t*>(p);
}

void unmap_host_memory(std::uint8_t* address, std::uint64_t size) noexcept {
  if (address != nullptr) ::munmap(address, size);
}

}  // namespace hv::detail
