#pragma once
// hvkit's error value. Every fallible public call returns hv::Result<T>; nothing throws across the API.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tl/expected.hpp>

namespace hv {

enum class ErrorKind : std::uint8_t {
  InvalidArgument,    // the caller passed something malformed (bad size, misaligned, zero length);
                      // hvkit's own check, never an errno (a kernel EINVAL is SystemError)
  ProtocolViolation,  // a guest or peer broke the device/driver protocol (virtqueue rings and descriptors,
                      // virtio requests and activation, undefined instruction encodings in the guest)
  OutOfRange,         // an address or index outside what exists (unmapped GPA, vCPU id too large)
  Overlap,            // a range collides with one already registered
  AlreadyExists,      // a name or registration that is already present
  NotFound,           // a handle, slot or registration that does not exist
  Unsupported,        // the backend or host lacks the capability
  Unavailable,        // the backend cannot be opened on this host (no device node, ...)
  PermissionDenied,   // the host refused access
  ResourceExhausted,  // out of memory, slots, fds
  Busy,               // try again later
  SystemError,        // any other errno from the host kernel, EINVAL, EFAULT and EBADF included
  HypervisorError,    // a hypervisor status code (MSHV)
  Internal,           // a broken invariant inside hvkit or an impossible kernel answer
};

std::string_view to_string(ErrorKind kind) noexcept;

// "0x1f": how addresses and values appear in error messages.
std::string hex(std::uint64_t value);

// 16 bytes: the kind, errno, and one heap block holding the operation, the message and the hypervisor
// status (none when all three are empty). Building an Error allocates at most once, copying it once,
// moving it never; a successful Result allocates nothing. Should that one allocation fail, the Error
// keeps its kind and errno and reads as having no operation or message: building one never throws.
class Error {
 public:
  Error(ErrorKind kind, std::string_view operation, std::string_view message) noexcept;

  // Classifies errno into an ErrorKind and keeps the raw value.
  static Error from_errno(std::string_view operation, int sys_errno, std::string_view context = {}) noexcept;
  static Error from_hypervisor_status(std::string_view operation, std::uint64_t status,
                                      std::string_view context = {}) noexcept;

  Error(const Error& other) noexcept;
  Error& operator=(const Error& other) noexcept;
  Error(Error&& other) noexcept = default;
  Error& operator=(Error&& other) noexcept = default;
  ~Error() = default;

  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
  [[nodiscard]] std::string_view operation() const noexcept;
  [[nodiscard]] std::string_view message() const noexcept;
  // 0 when the error did not come from a system call.
  [[nodiscard]] int sys_errno() const noexcept { return sys_errno_; }
  [[nodiscard]] std::optional<std::uint64_t> hypervisor_status() const noexcept;

  // "operation: message (kind, errno N: strerror)" — for logs and CLI output.
  [[nodiscard]] std::string to_string() const;

 private:
  Error(ErrorKind kind, int sys_errno, std::optional<std::uint64_t> status, std::string_view operation,
        std::string_view message) noexcept;

  // [status: u64][operation size: u64][message size: u64][operation][message], read and written with
  // memcpy (the block is bytes, so no alignment or aliasing question arises); null when empty.
  std::unique_ptr<char[]> details_;  // NOLINT(cppcoreguidelines-avoid-c-arrays): one variable-size block
  int sys_errno_ = 0;
  ErrorKind kind_;
  bool has_status_ = false;
};

// A fallible call's value or its Error. [[nodiscard]]: dropping a Result (`vm.map_memory(ram);`) is a
// compiler warning, and the build treats warnings as errors; where ignoring one is right, say so with
// `(void)` and a comment. It is a tl::expected<T, Error> in every other respect (value(), error(),
// operator->, and_then/map/or_else, construction from a T or a tl::unexpected<Error>, comparisons), and
// converts to and from it.
template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  using Base::operator=;

  constexpr Result() = default;
  // Implicit: what and_then/map/or_else return (a tl::expected) is a Result again.
  constexpr Result(const Base& other) : Base(other) {}
  constexpr Result(Base&& other) noexcept(std::is_nothrow_move_constructible_v<Base>) : Base(std::move(other)) {}
};

static_assert(sizeof(Error) <= 16, "an Error is a pointer, errno and kind: keep the success path cheap");
static_assert(sizeof(Result<void>) <= 24, "a Result<void> is an Error and a flag");
static_assert(sizeof(Result<std::uint64_t>) <= 24, "a Result<std::uint64_t> is an Error or the value, and a flag");

inline tl::unexpected<Error> fail(ErrorKind kind, std::string_view operation, std::string_view message) noexcept {
  return tl::unexpected<Error>(Error(kind, operation, message));
}

inline tl::unexpected<Error> fail_errno(std::string_view operation, int sys_errno,
                                        std::string_view context = {}) noexcept {
  return tl::unexpected<Error>(Error::from_errno(operation, sys_errno, context));
}

}  // namespace hv
