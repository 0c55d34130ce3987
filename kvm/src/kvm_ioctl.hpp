#pragma once
// The one way kvm/ issues ioctls: EINTR is retried, failure becomes an hv::Error naming the call.
// KVM_RUN does not come through here: its EINTR means "kicked" and the vCPU handles it itself.

#include <cerrno>
#include <sys/ioctl.h>

#include "hv/error.hpp"

namespace hv::kvm::detail {

template <class Arg>
Result<int> kvm_ioctl(int fd, unsigned long request, const char* operation, Arg arg) {
  for (;;) {
    const int r = ::ioctl(fd, request, arg);
    if (r >= 0) return r;
    if (errno != EINTR) return fail_errno(operation, errno);
  }
}

inline Result<int> kvm_ioctl(int fd, unsigned long request, const char* operation) {
  return kvm_ioctl(fd, request, operation, 0UL);
}

}  // namespace hv::kvm::detail
