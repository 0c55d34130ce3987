#include "hv/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace hv {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidArgument: return "invalid-argument";
    case ErrorKind::OutOfRange: return "out-of-range";
    case ErrorKind::Overlap: return "overlap";
    case ErrorKind::AlreadyExists: return "already-exists";
    case ErrorKind::NotFound: return "not-found";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::PermissionDenied: return "permission-denied";
    case ErrorKind::ResourceExhausted: return "resource-exhausted";
    case ErrorKind::Busy: return "busy";
    case ErrorKind::SystemError: return "system-error";
    case ErrorKind::HypervisorError: return "hypervisor-error";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

std::string hex(std::uint64_t value) {
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

namespace {

ErrorKind classify_errno(int err) noexcept {
  switch (err) {
    case EINVAL:
    case EFAULT:
    case EBADF: return ErrorKind::InvalidArgument;
    case ERANGE:
    case E2BIG: return ErrorKind::OutOfRange;
    case EEXIST: return ErrorKind::AlreadyExists;
    case ENOENT:
    case ENODEV:
    case ENXIO: return ErrorKind::Unavailable;
    case ENOTTY:
    case ENOSYS:
    case EOPNOTSUPP: return ErrorKind::Unsupported;
    case EPERM:
    case EACCES: return ErrorKind::PermissionDenied;
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE: return ErrorKind::ResourceExhausted;
    case EBUSY:
    case EAGAIN: return ErrorKind::Busy;
    default: return ErrorKind::SystemError;
  }
}

}  // namespace

Error::Error(ErrorKind kind, std::string operation, std::string message)
    : kind_(kind), operation_(std::move(operation)), message_(std::move(message)) {}

Error Error::from_errno(std::string operation, int sys_errno, std::string context) {
  Error e(classify_errno(sys_errno), std::move(operation), std::move(context));
  e.sys_errno_ = sys_errno;
  return e;
}

Error Error::from_hypervisor_status(std::string operation, std::uint64_t status, std::string context) {
  Error e(ErrorKind::HypervisorError, std::move(operation), std::move(context));
  e.hv_status_ = status;
  return e;
}

std::string Error::to_string() const {
  std::string s = operation_;
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  s += " (";
  s += hv::to_string(kind_);
  if (sys_errno_ != 0) {
    s += ", errno ";
    s += std::to_string(sys_errno_);
    s += ": ";
    s += std::strerror(sys_errno_);  // NOLINT(concurrency-mt-unsafe): glibc returns static strings for known errnos
  }
  if (hv_status_) {
    s += ", hypervisor status ";
    s += std::to_string(*hv_status_);
  }
  s += ")";
  return s;
}

}  // namespace hv
