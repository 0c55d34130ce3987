#include "hv/vhost/message.hpp"

#include <array>

namespace hv::vhost {

const char* request_name(std::uint32_t request) noexcept {
  static constexpr std::array<const char*, kLastRequest + 1> kNames = {
      "NONE",
      "GET_FEATURES",
      "SET_FEATURES",
      "SET_OWNER",
      "RESET_OWNER",
      "SET_MEM_TABLE",
      "SET_LOG_BASE",
      "SET_LOG_FD",
      "SET_VRING_NUM",
      "SET_VRING_ADDR",
      "SET_VRING_BASE",
      "GET_VRING_BASE",
      "SET_VRING_KICK",
      "SET_VRING_CALL",
      "SET_VRING_ERR",
      "GET_PROTOCOL_FEATURES",
      "SET_PROTOCOL_FEATURES",
      "GET_QUEUE_NUM",
      "SET_VRING_ENABLE",
      "SEND_RARP",
      "NET_SET_MTU",
      "SET_BACKEND_REQ_FD",
      "IOTLB_MSG",
      "SET_VRING_ENDIAN",
      "GET_CONFIG",
      "SET_CONFIG",
      "CREATE_CRYPTO_SESSION",
      "CLOSE_CRYPTO_SESSION",
      "POSTCOPY_ADVISE",
      "POSTCOPY_LISTEN",
      "POSTCOPY_END",
      "GET_INFLIGHT_FD",
      "SET_INFLIGHT_FD",
      "GPU_SET_SOCKET",
      "RESET_DEVICE",
      "VRING_KICK",
      "GET_MAX_MEM_SLOTS",
      "ADD_MEM_REG",
      "REM_MEM_REG",
      "SET_STATUS",
      "GET_STATUS",
  };
  if (request == 0 || request > kLastRequest) return "UNKNOWN";
  return kNames.at(request);
}

std::string describe(std::uint32_t request) {
  return std::string(request_name(request)) + " (" + std::to_string(request) + ")";
}

Message make_message(Request request, bool need_reply) {
  Message m;
  m.header = {static_cast<std::uint32_t>(request), kVersion | (need_reply ? kFlagNeedReply : 0U), 0};
  return m;
}

Error payload_size_error(const Message& m, std::size_t expected) {
  return Error(ErrorKind::ProtocolViolation, "vhost-user",
               describe(m.header.request) + ": payload of " + std::to_string(m.payload.size()) + " bytes, expected " +
                   std::to_string(expected));
}

Result<void> expect_fds(const Message& m, std::size_t min, std::size_t max) {
  if (m.fds.size() < min || m.fds.size() > max) {
    return fail(ErrorKind::ProtocolViolation, "vhost-user",
                describe(m.header.request) + " came with " + std::to_string(m.fds.size()) + " descriptors, expected " +
                    (min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max)));
  }
  return {};
}

}  // namespace hv::vhost
