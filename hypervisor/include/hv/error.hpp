#pragma once
// hvkit's error value. Every fallible public call returns hv::Result<T>; nothing throws across the API.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tl/expected.hpp>

namespace hv {

enum class ErrorKind : std::uint8_t {
  InvalidArgument,    // the caller passed something malformed (bad size, misaligned, zero length)
  OutOfRange,         // an address or index outside what exists (unmapped GPA, vCPU id too large)
  Overlap,            // a range collides with one already registered
  AlreadyExists,      // a name or registration that is already present
  NotFound,           // a handle, slot or registration that does not exist
  Unsupported,        // the backend or host lacks the capability
  Unavailable,        // the backend cannot be opened on this host (no device node, ...)
  PermissionDenied,   // the host refused access
  ResourceExhausted,  // out of memory, slots, fds
  Busy,               // try again later
  SystemError,        // any other errno from the host kernel
  HypervisorError,    // a hypervisor status code (MSHV)
  Internal,           // a broken invariant inside hvkit or an impossible kernel answer
};

std::string_view to_string(ErrorKind kind) noexcept;

// "0x1f": how addresses and values appear in error messages.
std::string hex(std::uint64_t value);

class Error {
 public:
  Error(ErrorKind kind, std::string operation, std::string message);

  // Classifies errno into an ErrorKind and keeps the raw value.
  static Error from_errno(std::string operation, int sys_errno, std::string context = {});
  static Error from_hypervisor_status(std::string operation, std::uint64_t status, std::string context = {});

  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
  [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  // 0 when the error did not come from a system call.
  [[nodiscard]] int sys_errno() const noexcept { return sys_errno_; }
  [[nodiscard]] std::optional<std::uint64_t> hypervisor_status() const noexcept { return hv_status_; }

  // "operation: message (kind, errno N: strerror)" — for logs and CLI output.
  [[nodiscard]] std::string to_string() const;

 private:
  ErrorKind kind_;
  std::string operation_;
  std::string message_;
  int sys_errno_ = 0;
  std::optional<std::uint64_t> hv_status_;
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

inline tl::unexpected<Error> fail(ErrorKind kind, std::string operation, std::string message) {
  return tl::unexpected<Error>(Error(kind, std::move(operation), std::move(message)));
}

inline tl::unexpected<Error> fail_errno(std::string operation, int sys_errno, std::string context = {}) {
  return tl::unexpected<Error>(Error::from_errno(std::move(operation), sys_errno, std::move(context)));
}

}  // namespace hv
