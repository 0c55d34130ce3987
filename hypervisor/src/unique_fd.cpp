#include "hv/unique_fd.hpp"

#include <unistd.h>

namespace hv {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) {
    // close() may report EINTR, but on Linux the descriptor is released regardless; retrying could close
    // a descriptor another thread has just been given.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace hv
