#include "host_mapping.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

void unmap_host_memory(std::uint8_t* address, std::uint64_t size) noexcept {
  if (address != nullptr) ::munmap(address, size);
}

}  // namespace hv::detail
