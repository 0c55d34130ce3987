#pragma once
// One vhost-user message as the codec sees it: the header, the payload bytes and the descriptors that
// came with it (SCM_RIGHTS), owned. Decoding a payload (payload_as) checks its size against the type
// the request carries, and expect_fds checks the descriptor count each request allows: a peer that
// sends too few or too many is refused before any of them is used, and the extra ones are closed
// when the Message goes.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "hv/vhost/protocol.hpp"

namespace hv::vhost {

struct Message {
  Header header;
  std::vector<std::uint8_t> payload;
  std::vector<UniqueFd> fds;

  [[nodiscard]] std::uint32_t request() const noexcept { return header.request; }
  [[nodiscard]] bool is_reply() const noexcept { return (header.flags & kFlagReply) != 0; }
  [[nodiscard]] bool needs_reply() const noexcept { return (header.flags & kFlagNeedReply) != 0; }
};

// A request (flags = version, plus NEED_REPLY when asked) with `body` as its payload.
template <class T>
requires std::is_trivially_copyable_v<T> Message make_message(Request request, const T& body, bool need_reply = false) {
  Message m;
  m.header = {static_cast<std::uint32_t>(request), kVersion | (need_reply ? kFlagNeedReply : 0U),
              static_cast<std::uint32_t>(sizeof(T))};
  m.payload.resize(sizeof(T));
  std::memcpy(m.payload.data(), &body, sizeof(T));
  return m;
}
// A request without a payload.
Message make_message(Request request, bool need_reply = false);
// The reply to `to` carrying `body` (flags = version | REPLY, the same request code).
template <class T>
requires std::is_trivially_copyable_v<T> Message make_reply(const Message& to, const T& body) {
  Message m;
  m.header = {to.header.request, kVersion | kFlagReply, static_cast<std::uint32_t>(sizeof(T))};
  m.payload.resize(sizeof(T));
  std::memcpy(m.payload.data(), &body, sizeof(T));
  return m;
}

Error payload_size_error(const Message& m, std::size_t expected);

// The payload as a T when it is exactly sizeof(T) bytes; ProtocolViolation naming the request otherwise.
template <class T>
requires std::is_trivially_copyable_v<T> Result<T> payload_as(const Message& m) {
  if (m.payload.size() != sizeof(T)) [[unlikely]]
    return tl::unexpected(payload_size_error(m, sizeof(T)));
  T value;
  std::memcpy(&value, m.payload.data(), sizeof(T));
  return value;
}
// ProtocolViolation unless the message carries between `min` and `max` descriptors.
Result<void> expect_fds(const Message& m, std::size_t min, std::size_t max);

// "SET_MEM_TABLE (5)": for errors and logs.
std::string describe(std::uint32_t request);

}  // namespace hv::vhost
