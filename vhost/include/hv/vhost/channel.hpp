#pragma once
// One end of a vhost-user connection: a connected Unix stream socket that sends and receives whole
// messages with their descriptors (SCM_RIGHTS). The peer is untrusted: a header announcing a payload
// above kMaxPayloadSize, more than kMaxFdsPerMessage descriptors, a truncated message or a peer that
// stops in the middle of one is an error (ProtocolViolation, or SystemError for the socket), and every
// descriptor received with a bad message is closed. Waits are bounded: receive() takes a deadline for
// the header, and the rest of a message must follow within kMessageCompletionTimeout.
//
// Not thread-safe: one thread sends and receives on a channel at a time (the backend's session thread,
// or the frontend under its own lock).

#include <chrono>
#include <optional>
#include <span>
#include <utility>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "hv/vhost/message.hpp"

namespace hv::vhost {

// How long the rest of a message may take once its first byte arrived.
inline constexpr std::chrono::milliseconds kMessageCompletionTimeout{5000};

class Channel {
 public:
  // Takes a connected SOCK_STREAM Unix socket (blocking or not: the channel polls).
  explicit Channel(UniqueFd socket) noexcept : socket_(std::move(socket)) {}
  // A connected pair (socketpair), for tests and in-process peers.
  static Result<std::pair<Channel, Channel>> pair();
  // Connects to a listening socket at `path` (frontend side).
  static Result<Channel> connect(const std::string& path);

  // Sends `message` with `fds` attached to its first byte (the descriptors stay the caller's; the
  // message's own fds member is ignored). The header's size must equal the payload's (Internal if not).
  Result<void> send(const Message& message, std::span<const int> fds = {});
  // The next message. `timeout` bounds the wait for its first byte (nullopt: wait as long as it
  // takes, for a backend idling between requests). NotFound-free: a peer that closed the connection
  // gives Unavailable ("peer closed the connection"); a timeout gives Busy.
  Result<Message> receive(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  [[nodiscard]] int fd() const noexcept { return socket_.get(); }
  [[nodiscard]] bool valid() const noexcept { return socket_.valid(); }

 private:
  UniqueFd socket_;
};

}  // namespace hv::vhost
