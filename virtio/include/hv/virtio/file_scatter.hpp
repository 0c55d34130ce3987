#pragma once
// Scatter-gather positional file I/O for devices that move data straight between guest memory and a
// file (virtio-blk): one preadv/pwritev per batch of host views, with the short transfers the kernel
// may return (a signal, a file system splitting the request) taken up by advancing the iovec array
// and issuing the rest, never by starting over. A transfer of zero bytes (the end of the file) or an
// error ends it with false: a read past the end of the file is an I/O error, not invented data.
//
// The system call is a parameter so that tests can feed any sequence of short counts.

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

namespace hv::virtio {

// Drops the first `n` bytes (no more than the array holds) from the front of `iov`: whole entries are
// skipped, a partly transferred one is shortened from the front. Returns the entries left.
inline std::span<iovec> advance_iovecs(std::span<iovec> iov, std::size_t n) noexcept {
  while (!iov.empty() && n >= iov.front().iov_len) {
    n -= iov.front().iov_len;
    iov = iov.subspan(1);
  }
  if (!iov.empty() && n != 0) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic): n < iov_len, inside the entry
    iov.front().iov_base = static_cast<std::uint8_t*>(iov.front().iov_base) + n;
    iov.front().iov_len -= n;
  }
  return iov;
}

// Transfers every byte `iov` describes at file offset `offset` with `call(const iovec*, int count,
// off_t offset)` (preadv or pwritev semantics), retrying after EINTR and continuing after a short
// count. `iov` is consumed. At most IOV_MAX entries (the caller's batches are smaller).
template <class Call>
bool transfer_all(std::span<iovec> iov, std::uint64_t offset, Call call) {
  while (!iov.empty()) {
    if (iov.front().iov_len == 0) {  // nothing to move; a zero count below must mean end of file
      iov = iov.subspan(1);
      continue;
    }
    const ssize_t n = call(iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += static_cast<std::uint64_t>(n);
    iov = advance_iovecs(iov, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace hv::virtio
