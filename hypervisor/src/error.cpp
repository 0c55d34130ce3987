#include "hv/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <span>
#include <sstream>

namespace hv {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidArgument: return "invalid-argument";
    case ErrorKind::ProtocolViolation: return "protocol-violation";
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
    // EINVAL, EFAULT and EBADF are not InvalidArgument: the kernel's caller is hvkit, not the VMM, so
    // they say nothing certain about the VMM's arguments (an hvkit bug, a host or kernel version that
    // refuses what another accepts). They stay SystemError, with sys_errno() telling which.
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

// The details block's header: three u64 fields, then the operation's and the message's bytes.
constexpr std::size_t kStatusAt = 0;
constexpr std::size_t kOperationSizeAt = 8;
constexpr std::size_t kMessageSizeAt = 16;
constexpr std::size_t kHeaderSize = 24;

std::uint64_t load_u64(const char* block, std::size_t at) noexcept {
  std::uint64_t value = 0;
  std::memcpy(&value, block + at, sizeof value);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  return value;
}

void store_u64(char* block, std::size_t at, std::uint64_t value) noexcept {
  std::memcpy(block + at, &value, sizeof value);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
}

// nullptr when memory is short: an Error is then reported without its text rather than thrown.
std::unique_ptr<char[]> allocate_block(std::size_t size) noexcept {  // NOLINT(cppcoreguidelines-avoid-c-arrays)
  return std::unique_ptr<char[]>(new (std::nothrow) char[size]);     // NOLINT(cppcoreguidelines-avoid-c-arrays)
}

std::size_t block_size(const char* block) noexcept {
  return kHeaderSize + load_u64(block, kOperationSizeAt) + load_u64(block, kMessageSizeAt);
}

}  // namespace

Error::Error(ErrorKind kind, std::string_view operation, std::string_view message) noexcept
    : Error(kind, 0, std::nullopt, operation, message) {}

Error::Error(ErrorKind kind, int sys_errno, std::optional<std::uint64_t> status, std::string_view operation,
             std::string_view message) noexcept
    : sys_errno_(sys_errno), kind_(kind), has_status_(status.has_value()) {
  if (operation.empty() && message.empty() && !status) return;
  // One allocation for everything; nothrow, so that reporting an error never throws (without memory
  // the Error still carries its kind and errno).
  details_ = allocate_block(kHeaderSize + operation.size() + message.size());
  if (!details_) {
    has_status_ = false;
    return;
  }
  char* block = details_.get();
  store_u64(block, kStatusAt, status.value_or(0));
  store_u64(block, kOperationSizeAt, operation.size());
  store_u64(block, kMessageSizeAt, message.size());
  const std::span<char> text(block + kHeaderSize,  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
                             operation.size() + message.size());
  std::copy(operation.begin(), operation.end(), text.begin());
  std::copy(message.begin(), message.end(), text.begin() + static_cast<std::ptrdiff_t>(operation.size()));
}

Error::Error(const Error& other) noexcept
    : sys_errno_(other.sys_errno_), kind_(other.kind_), has_status_(other.has_status_) {
  if (!other.details_) return;
  const std::size_t size = block_size(other.details_.get());
  details_ = allocate_block(size);
  if (!details_) {
    has_status_ = false;
    return;
  }
  std::memcpy(details_.get(), other.details_.get(), size);
}

Error& Error::operator=(const Error& other) noexcept {
  if (this != &other) *this = Error(other);
  return *this;
}

Error Error::from_errno(std::string_view operation, int sys_errno, std::string_view context) noexcept {
  return Error(classify_errno(sys_errno), sys_errno, std::nullopt, operation, context);
}

Error Error::from_hypervisor_status(std::string_view operation, std::uint64_t status,
                                    std::string_view context) noexcept {
  return Error(ErrorKind::HypervisorError, 0, status, operation, context);
}

std::string_view Error::operation() const noexcept {
  if (!details_) return {};
  return {details_.get() + kHeaderSize,  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
          static_cast<std::size_t>(load_u64(details_.get(), kOperationSizeAt))};
}

std::string_view Error::message() const noexcept {
  if (!details_) return {};
  const auto operation_size = static_cast<std::size_t>(load_u64(details_.get(), kOperationSizeAt));
  return {details_.get() + kHeaderSize + operation_size,  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
          static_cast<std::size_t>(load_u64(details_.get(), kMessageSizeAt))};
}

std::optional<std::uint64_t> Error::hypervisor_status() const noexcept {
  if (!has_status_ || !details_) return std::nullopt;
  return load_u64(details_.get(), kStatusAt);
}

std::string Error::to_string() const {
  std::string s(operation());
  if (const auto text = message(); !text.empty()) {
    s += ": ";
    s += text;
  }
  s += " (";
  s += hv::to_string(kind_);
  if (sys_errno_ != 0) {
    s += ", errno ";
    s += std::to_string(sys_errno_);
    s += ": ";
    s += std::strerror(sys_errno_);  // NOLINT(concurrency-mt-unsafe): glibc returns static strings for known errnos
  }
  if (const auto status = hypervisor_status()) {
    s += ", hypervisor status ";
    s += std::to_string(*status);
  }
  s += ")";
  return s;
}

}  // namespace hv
