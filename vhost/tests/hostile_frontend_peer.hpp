#pragma once
// The hostile frontend's side of one connection to a running daemon: the scripted frontend (its RAM,
// REPLY_ACK requests, ring start-up) plus what a well-behaved frontend never does: raw bytes that are
// not a whole message, headers that lie, descriptors of any kind attached to any request.

#include <sys/socket.h>
#include <sys/types.h>

#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "scripted_frontend.hpp"

namespace hvtest {

class HostileFrontendPeer : public ScriptedFrontend {
 public:
  explicit HostileFrontendPeer(hv::vhost::Channel channel) {
    make_ram();
    frontend_ = std::make_unique<hv::vhost::Channel>(std::move(channel));
  }

  // Bytes exactly as given, no framing (a header that lies, half a message).
  bool send_raw(std::span<const std::uint8_t> bytes) const {
    return ::send(frontend_->fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // A header with these fields, then `payload` (whatever its length).
  bool send_header(std::uint32_t request, std::uint32_t flags, std::uint32_t size,
                   std::span<const std::uint8_t> payload = {}) const {
    const hv::vhost::Header h{request, flags, size};
    std::vector<std::uint8_t> bytes(sizeof h);
    std::memcpy(bytes.data(), &h, sizeof h);
    bytes.insert(bytes.end(), payload.begin(), payload.end());
    return send_raw(bytes);
  }

  static constexpr std::uint64_t kFeatureRingPacked = 1ULL << 34;

  // What negotiate() does before the memory table: features, protocol features (all offered, so
  // REPLY_ACK too), owner, the device's features.
  void handshake() {
    using hv::vhost::Request;
    const std::uint64_t offered = get_u64(Request::GetFeatures);
    ASSERT_NE(offered & hv::vhost::kFeatureProtocolFeatures, 0U);
    const std::uint64_t protocol = get_u64(Request::GetProtocolFeatures);
    ASSERT_NE(protocol & hv::vhost::protocol_feature::kReplyAck, 0U);
    send(hv::vhost::make_message(Request::SetProtocolFeatures, protocol));
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetOwner)), 0U);
    // Every device bit offered but packed rings (the attacks lay out split rings): a device that
    // requires a bit (virtio-i2c's ZERO_LENGTH_REQUEST) starts its rings.
    features_ = (offered & ~kFeatureRingPacked) | hv::virtio::kFeatureVersion1;
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetFeatures, features_)), 0U);
  }

  // REPLY_ACK's answer must be a refusal (non-zero).
  void expect_refused(hv::vhost::Message m, std::vector<int> fds = {}) {
    const std::uint32_t request = m.request();
    EXPECT_NE(ack(std::move(m), std::move(fds)), 0U) << hv::vhost::describe(request) << " was accepted";
  }

  // The peer's RAM memfd and the scripted frontend's memory (for rings written by hand).
  [[nodiscard]] int ram_fd() const { return ram_->memfd(); }
  hv::GuestMemory& memory() { return memory_; }
  hv::EventFd& kick() { return kick_; }
  hv::EventFd& error_fd() { return err_; }
  [[nodiscard]] std::uint64_t features() const { return features_; }
  hv::vhost::Channel& channel() { return *frontend_; }
};

}  // namespace hvtest
