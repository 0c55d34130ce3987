// The socket codec: whole messages with their descriptors, and a hostile peer's malformed ones refused
// with the descriptors closed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "hv/event_fd.hpp"
#include "hv/vhost/channel.hpp"

namespace hv::vhost {
namespace {

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Raw bytes and descriptors onto a socket, as a hostile peer would send them.
void send_raw(int socket, std::span<const std::uint8_t> bytes, std::span<const int> fds = {}) {
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  std::array<std::uint8_t, CMSG_SPACE(sizeof(int) * 16)> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ASSERT_EQ(::sendmsg(socket, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

std::vector<std::uint8_t> header_bytes(std::uint32_t request, std::uint32_t flags, std::uint32_t size) {
  Header h{request, flags, size};
  std::vector<std::uint8_t> b(sizeof h);
  std::memcpy(b.data(), &h, sizeof h);
  return b;
}

TEST(VhostChannel, CarriesPayloadAndDescriptors) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair) << pair.error().to_string();
  auto& [a, b] = *pair;
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  const int fd = event->fd();
  ASSERT_TRUE(a.send(make_message(Request::SetVringKick, std::uint64_t{3}), std::span(&fd, 1)));
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->request(), static_cast<std::uint32_t>(Request::SetVringKick));
  EXPECT_FALSE(m->is_reply());
  ASSERT_EQ(m->fds.size(), 1U);
  EXPECT_NE(m->fds[0].get(), fd) << "a new descriptor for the same eventfd";
  auto value = payload_as<std::uint64_t>(*m);
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, 3U);
  // The received descriptor is the same eventfd: a signal through it reaches ours.
  ASSERT_TRUE(EventFd::duplicate(m->fds[0].get())->signal());
  auto consumed = event->consume();
  ASSERT_TRUE(consumed);
  EXPECT_EQ(*consumed, 1U);
  EXPECT_TRUE(expect_fds(*m, 1, 1));
  EXPECT_FALSE(expect_fds(*m, 0, 0));
  EXPECT_FALSE(payload_as<VringAddr>(*m)) << "8 bytes are not a 40-byte VringAddr";
}

TEST(VhostChannel, PayloadOfTheWrongSizeIsRefused) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  ASSERT_TRUE(a.send(make_message(Request::SetVringNum, std::uint32_t{7})));
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_TRUE(m);
  auto state = payload_as<VringState>(*m);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().kind(), ErrorKind::ProtocolViolation);
  EXPECT_NE(state.error().to_string().find("SET_VRING_NUM"), std::string::npos) << state.error().to_string();
}

TEST(VhostChannel, OversizedPayloadIsRefusedBeforeAllocation) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  send_raw(a.fd(), header_bytes(5, kVersion, 0xffffffffU));
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::ProtocolViolation);
  EXPECT_NE(m.error().to_string().find("4294967295"), std::string::npos) << m.error().to_string();
}

TEST(VhostChannel, WrongVersionIsRefused) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  send_raw(a.fd(), header_bytes(1, 0x2, 0));
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::ProtocolViolation);
}

TEST(VhostChannel, TooManyDescriptorsAreRefusedAndClosed) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  std::vector<EventFd> events;
  std::vector<int> fds;
  for (int i = 0; i < 12; ++i) {
    events.push_back(*EventFd::create());
    fds.push_back(events.back().fd());
  }
  const int before = ::dup(0);
  ::close(before);
  send_raw(a.fd(), header_bytes(5, kVersion, 0), fds);
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::ProtocolViolation);
  // Whatever the kernel delivered was closed: the lowest free descriptor is where it was before.
  const int after = ::dup(0);
  ::close(after);
  EXPECT_EQ(after, before) << "a received descriptor leaked";
}

TEST(VhostChannel, PeerClosingMidMessageIsAnErrorNotAHang) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  send_raw(a.fd(), header_bytes(2, kVersion, 8));  // promises 8 bytes, sends none
  { Channel closing = std::move(a); }
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::Unavailable);
  EXPECT_NE(m.error().to_string().find("mid-message"), std::string::npos) << m.error().to_string();
}

TEST(VhostChannel, PeerClosedIsUnavailable) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  { Channel closing = std::move(a); }
  auto m = b.receive();
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::Unavailable);
}

TEST(VhostChannel, SilentPeerTimesOut) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto m = pair->second.receive(std::chrono::milliseconds(50));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::Busy);
}

TEST(VhostChannel, QueuedMessageIsReadEvenWithNoTimeLeft) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  ASSERT_TRUE(a.send(make_message(Request::GetFeatures)));
  // A message already waiting is not a timeout, however little time the caller gives.
  auto m = b.receive(std::chrono::milliseconds(0));
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->request(), static_cast<std::uint32_t>(Request::GetFeatures));
}

TEST(VhostChannel, ReceivedDescriptorsAreCloseOnExec) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  auto event = EventFd::create();
  const int fd = event->fd();
  ASSERT_TRUE(a.send(make_message(Request::SetVringCall, std::uint64_t{0}), std::span(&fd, 1)));
  auto m = b.receive(std::chrono::milliseconds(1000));
  ASSERT_TRUE(m);
  ASSERT_EQ(m->fds.size(), 1U);
  EXPECT_TRUE(fd_open(m->fds[0].get()));
  EXPECT_NE(::fcntl(m->fds[0].get(), F_GETFD) & FD_CLOEXEC, 0) << "a daemon must not leak guest fds into children";
}

}  // namespace
}  // namespace hv::vhost
