// The vhost-user socket: whole messages with SCM_RIGHTS descriptors over a Unix stream socket. This is
// the one file of the library that calls sendmsg/recvmsg and walks control messages: the CMSG macros
// are the kernel's ABI for descriptor passing, and the descriptors are copied out of the control
// buffer with memcpy (it is bytes; no typed access to it is made).
#include "hv/vhost/channel.hpp"

#include "unix_address.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <iterator>
#include <cstring>
#include <gsl/gsl>

namespace hv::vhost {
namespace {

using Clock = std::chrono::steady_clock;

// Room for kMaxFdsPerMessage descriptors. A sender that attaches more gets MSG_CTRUNC: refused.
constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage);

// Waits until `fd` is readable (or has hung up); Busy once `deadline` has passed, nullopt: no limit.
// The time left is rounded up to whole milliseconds, and a passed deadline still polls once without
// waiting: data already queued is never reported as a timeout.
Result<void> wait_readable(int fd, std::optional<Clock::time_point> deadline, const char* operation) {
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, wait_ms);
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return fail_errno(operation, errno);
    if (n == 0 && deadline && Clock::now() >= *deadline)
      return fail(ErrorKind::Busy, operation, "timed out waiting for the peer");
  }
}

// Closes every descriptor in the control messages of `msg` (a message being refused) and returns the
// ones of a well-formed SCM_RIGHTS message as owned descriptors.
std::vector<UniqueFd> take_fds(msghdr& msg) {
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));  // NOLINT: the kernel's control-buffer ABI
      fds.emplace_back(fd);
    }
  }
  return fds;
}

}  // namespace

Result<std::pair<Channel, Channel>> Channel::pair() {
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) return fail_errno("Channel::pair", errno);
  return std::pair<Channel, Channel>(Channel(UniqueFd(fds[0])), Channel(UniqueFd(fds[1])));
}

namespace detail {

Result<sockaddr_un> unix_address(const std::string& path, std::string_view op) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return fail(ErrorKind::InvalidArgument, op, "socket path empty or longer than 107 bytes: " + path);
  std::copy(path.begin(), path.end(), std::begin(addr.sun_path));
  return addr;
}

int with_unix_address(int (*call)(int, const sockaddr*, socklen_t), int fd, const sockaddr_un& addr) noexcept {
  // sockaddr_un is the socket API's address type for AF_UNIX; connect() and bind() take its generic form.
  const auto* generic =
      reinterpret_cast<const sockaddr*>(&addr);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  return call(fd, generic, sizeof(addr));
}

}  // namespace detail

Result<Channel> Channel::connect(const std::string& path) {
  auto addr = detail::unix_address(path, "Channel::connect");
  if (!addr) return tl::unexpected(addr.error());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("Channel::connect", errno);
  if (detail::with_unix_address(::connect, s.get(), *addr) != 0) return fail_errno("Channel::connect", errno, path);
  return Channel(std::move(s));
}

Result<void> Channel::send(const Message& message, std::span<const int> fds) {
  if (message.header.size != message.payload.size())
    return fail(ErrorKind::Internal, "Channel::send", "header size differs from the payload's");
  if (fds.size() > kMaxFdsPerMessage)
    return fail(ErrorKind::InvalidArgument, "Channel::send", "more descriptors than one message may carry");
  std::array<iovec, 2> iov{};
  iov[0] = {const_cast<Header*>(&message.header), sizeof(Header)};  // NOLINT: sendmsg does not write it
  iov[1] = {const_cast<std::uint8_t*>(message.payload.data()), message.payload.size()};  // NOLINT: as above
  alignas(cmsghdr) std::array<std::uint8_t, kControlBytes> control{};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = message.payload.empty() ? 1 : 2;
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  std::size_t total = sizeof(Header) + message.payload.size();
  std::size_t sent = 0;
  while (sent < total) {
    const ssize_t n = ::sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{socket_.get(), POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(kMessageCompletionTimeout.count())) <= 0)
          return fail(ErrorKind::Busy, "Channel::send", "the peer does not read");
        continue;
      }
      return fail_errno("Channel::send", errno, describe(message.header.request));
    }
    sent += static_cast<std::size_t>(n);
    // A partial send: the descriptors went with the first byte; continue with the rest only.
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
    auto advance = static_cast<std::size_t>(n);
    while (advance > 0 && msg.msg_iovlen > 0) {
      iovec& first = msg.msg_iov[0];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
      const std::size_t step = std::min(advance, first.iov_len);
      first.iov_base = static_cast<std::uint8_t*>(first.iov_base) + step;  // NOLINT: within the iovec
      first.iov_len -= step;
      advance -= step;
      if (first.iov_len == 0) {
        ++msg.msg_iov;  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): within iov
        --msg.msg_iovlen;
      }
    }
  }
  return {};
}

Result<Message> Channel::receive(std::optional<std::chrono::milliseconds> timeout) {
  constexpr const char* kOp = "Channel::receive";
  if (!socket_) return fail(ErrorKind::Unavailable, kOp, "the channel is closed");
  std::optional<Clock::time_point> deadline;
  if (timeout) deadline = Clock::now() + *timeout;
  if (auto r = wait_readable(socket_.get(), deadline, kOp); !r) return tl::unexpected(r.error());

  Message m;
  alignas(cmsghdr) std::array<std::uint8_t, kControlBytes> control{};
  std::array<std::uint8_t, sizeof(Header)> header_bytes{};
  std::size_t got = 0;
  bool first = true;
  const auto complete_by = Clock::now() + kMessageCompletionTimeout;
  // The header, with the descriptors that ride on its first byte.
  while (got < header_bytes.size()) {
    if (!first) {
      if (auto r = wait_readable(socket_.get(), complete_by, kOp); !r) return tl::unexpected(r.error());
    }
    iovec iov{header_bytes.data() + got, header_bytes.size() - got};  // NOLINT: within header_bytes
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        first = false;
        continue;
      }
      return fail_errno(kOp, errno);
    }
    auto fds = take_fds(msg);  // owned now: closed on every error path below
    for (auto& fd : fds) m.fds.push_back(std::move(fd));
    if ((msg.msg_flags & MSG_CTRUNC) != 0)
      return fail(ErrorKind::ProtocolViolation, kOp, "more descriptors than a message may carry (at most 8)");
    if (n == 0)
      return fail(ErrorKind::Unavailable, kOp,
                  got == 0 ? "peer closed the connection" : "peer closed the connection mid-message");
    got += static_cast<std::size_t>(n);
    first = false;
  }
  if (m.fds.size() > kMaxFdsPerMessage)
    return fail(ErrorKind::ProtocolViolation, kOp, "more descriptors than a message may carry (at most 8)");
  std::memcpy(&m.header, header_bytes.data(), sizeof(Header));
  if ((m.header.flags & kVersionMask) != kVersion)
    return fail(ErrorKind::ProtocolViolation, kOp, "unsupported protocol version in " + describe(m.header.request));
  if (m.header.size > kMaxPayloadSize)
    return fail(ErrorKind::ProtocolViolation, kOp,
                describe(m.header.request) + " announces a payload of " + std::to_string(m.header.size) +
                    " bytes (at most " + std::to_string(kMaxPayloadSize) + ")");
  m.payload.resize(m.header.size);
  got = 0;
  while (got < m.payload.size()) {
    if (auto r = wait_readable(socket_.get(), complete_by, kOp); !r) return tl::unexpected(r.error());
    const ssize_t n = ::recv(socket_.get(), m.payload.data() + got, m.payload.size() - got, MSG_DONTWAIT);  // NOLINT
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail_errno(kOp, errno);
    }
    if (n == 0) return fail(ErrorKind::Unavailable, kOp, "peer closed the connection mid-message");
    got += static_cast<std::size_t>(n);
  }
  return m;
}

}  // namespace hv::vhost
