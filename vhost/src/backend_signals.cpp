#include "backend_signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace hv::vhost {
namespace {

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic in C.
int get_flags(int fd) { return ::fcntl(fd, F_GETFL); }
int set_flags(int fd, int flags) { return ::fcntl(fd, F_SETFL, flags); }
// NOLINTEND(cppcoreguidelines-pro-type-vararg)

void write_event(int fd) {
  if (fd < 0) return;
  const std::uint64_t one = 1;
  // Non-blocking (check_eventfd made it so): a counter at its maximum means the peer has not read for
  // 2^64 signals, and one more would change nothing it can see.
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<void> check_eventfd(int fd, const char* operation) {
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  std::array<char, 64> target{};
  const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
  if (n > 0 && std::string_view(target.data(), static_cast<std::size_t>(n)) != "anon_inode:[eventfd]") {
    return fail(ErrorKind::InvalidArgument, operation,
                "the descriptor is not an eventfd (" + std::string(target.data(), static_cast<std::size_t>(n)) + ")");
  }
  const int flags = get_flags(fd);
  if (flags < 0 || set_flags(fd, flags | O_NONBLOCK) != 0) return fail_errno(operation, errno, "fcntl(O_NONBLOCK)");
  return {};
}

void CallTable::set_call(std::size_t ring, UniqueFd fd) {
  std::lock_guard lock(mutex_);
  if (ring < call_.size()) call_[ring] = std::move(fd);
}

void CallTable::set_err(std::size_t ring, UniqueFd fd) {
  std::lock_guard lock(mutex_);
  if (ring < err_.size()) err_[ring] = std::move(fd);
}

void CallTable::used(std::size_t ring) const {
  std::lock_guard lock(mutex_);
  if (ring < call_.size()) write_event(call_[ring].get());
}

void CallTable::broken() {
  needs_reset_.store(true, std::memory_order_release);
  std::lock_guard lock(mutex_);
  for (const auto& fd : err_) write_event(fd.get());
}

void CallTable::clear() {
  std::lock_guard lock(mutex_);
  for (auto& fd : call_) fd.reset();
  for (auto& fd : err_) fd.reset();
  needs_reset_.store(false, std::memory_order_release);
}

}  // namespace hv::vhost
