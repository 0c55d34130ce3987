// The frontend against a scripted backend: negotiation as QEMU does it, and every kind of hostile or
// dead backend answered with a clear error and a connection that stays broken (never a crash, never a
// wait without end).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <bit>

#include "hv/vhost/frontend.hpp"
#include "scripted_backend.hpp"

namespace hv::vhost {
namespace {

using testing::Misbehave;
using testing::ScriptedBackend;
namespace pf = protocol_feature;

constexpr std::uint32_t code(Request r) { return static_cast<std::uint32_t>(r); }

// Short waits: a silent backend must cost the test little (no timing is asserted).
FrontendOptions quick() {
  FrontendOptions o;
  o.timeout = std::chrono::milliseconds(200);
  return o;
}

ScriptedBackend::Script full_script() {
  ScriptedBackend::Script s;
  s.protocol_features = pf::kMq | pf::kReplyAck | pf::kConfig | pf::kStatus | pf::kResetDevice;
  s.queue_num = 2;
  return s;
}

testing::RawReply reply_with(Request r, std::vector<std::uint8_t> payload,
                             std::uint32_t flags = kVersion | kFlagReply) {
  return {{code(r), flags, static_cast<std::uint32_t>(payload.size())}, std::move(payload)};
}

template <class T>
std::vector<std::uint8_t> bytes(const T& v) {
  std::vector<std::uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

TEST(VhostFrontend, NegotiatesAsQemuDoes) {
  auto script = full_script();
  script.protocol_features |= pf::kInflightShmfd | pf::kBackendReq | (1ULL << 40);  // the last two not ours to take
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ(f->backend_features(), script.features);
  EXPECT_EQ(f->protocol_features(),
            pf::kMq | pf::kReplyAck | pf::kConfig | pf::kStatus | pf::kResetDevice | pf::kInflightShmfd);
  ASSERT_TRUE(f->queue_num());
  EXPECT_EQ(*f->queue_num(), 2);
  // The acknowledgement holds only what both sides know.
  auto acked = backend.last(Request::SetProtocolFeatures);
  ASSERT_TRUE(acked);
  EXPECT_EQ(*payload_as<std::uint64_t>(*acked), f->protocol_features());
  const std::vector<std::uint32_t> expected = {code(Request::GetFeatures), code(Request::GetProtocolFeatures),
                                               code(Request::SetProtocolFeatures), code(Request::SetOwner),
                                               code(Request::GetQueueNum)};
  EXPECT_EQ(backend.requests(), expected);
  // REPLY_ACK was negotiated: SET_OWNER asked for (and got) an acknowledgement.
  EXPECT_TRUE(backend.last(Request::SetOwner)->needs_reply());
}

TEST(VhostFrontend, WithoutProtocolFeaturesNoProtocolRequests) {
  ScriptedBackend::Script script;
  script.features = 1ULL << 32;  // VERSION_1 only
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ(f->protocol_features(), 0U);
  EXPECT_FALSE(f->queue_num());
  const std::vector<std::uint32_t> expected = {code(Request::GetFeatures), code(Request::SetOwner)};
  ASSERT_TRUE(backend.wait_requests(2));
  EXPECT_EQ(backend.requests(), expected);
  auto enable = f->set_vring_enable(0, true);
  ASSERT_FALSE(enable);
  EXPECT_EQ(enable.error().kind(), ErrorKind::Unsupported);
  // SET_FEATURES does not add a bit the backend did not offer.
  ASSERT_TRUE(f->set_features(1ULL << 32));
  ASSERT_TRUE(backend.wait_requests(3));
  auto sent = backend.last(Request::SetFeatures);
  ASSERT_TRUE(sent);
  EXPECT_EQ(*payload_as<std::uint64_t>(*sent), 1ULL << 32);
}

TEST(VhostFrontend, SetFeaturesAddsProtocolFeaturesAndRefusesUnofferedBits) {
  ScriptedBackend backend(full_script());
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto bad = f->set_features((1ULL << 32) | (1ULL << 34));  // RING_PACKED: not offered
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(backend.count(Request::SetFeatures), 0U) << "refused before anything was sent";
  ASSERT_TRUE(f->set_features(1ULL << 32));
  EXPECT_EQ(*payload_as<std::uint64_t>(*backend.last(Request::SetFeatures)), (1ULL << 32) | (1ULL << 30));
  EXPECT_TRUE(f->connected());
}

// A reply to another request, with the wrong flags, of the wrong size or with descriptors: refused,
// and the connection is broken for good (later calls fail at once with the first error).
struct HostileReply {
  const char* name;
  testing::RawReply reply;
};

class VhostFrontendHostile : public ::testing::TestWithParam<int> {};

std::vector<HostileReply> hostile_feature_replies() {
  std::vector<HostileReply> r;
  r.push_back({"wrong request code", reply_with(Request::GetProtocolFeatures, bytes(std::uint64_t{1ULL << 32}))});
  r.push_back({"no REPLY flag", reply_with(Request::GetFeatures, bytes(std::uint64_t{1ULL << 32}), kVersion)});
  r.push_back({"NEED_REPLY in a reply", reply_with(Request::GetFeatures, bytes(std::uint64_t{1ULL << 32}),
                                                   kVersion | kFlagReply | kFlagNeedReply)});
  r.push_back({"payload too short", reply_with(Request::GetFeatures, bytes(std::uint32_t{1}))});
  r.push_back({"payload too long", reply_with(Request::GetFeatures, std::vector<std::uint8_t>(16, 0xff))});
  r.push_back({"empty payload", reply_with(Request::GetFeatures, {})});
  return r;
}

TEST_P(VhostFrontendHostile, BadGetFeaturesReplyIsAProtocolViolation) {
  const auto cases = hostile_feature_replies();
  const auto& c = cases.at(static_cast<std::size_t>(GetParam()));
  ScriptedBackend::Script script = full_script();
  script.replace.emplace(code(Request::GetFeatures), c.reply);
  ScriptedBackend backend(std::move(script));
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_FALSE(f) << c.name;
  EXPECT_EQ(f.error().kind(), ErrorKind::ProtocolViolation) << c.name << ": " << f.error().to_string();
}
INSTANTIATE_TEST_SUITE_P(Replies, VhostFrontendHostile, ::testing::Range(0, 6));

TEST(VhostFrontend, SilentBackendTimesOutAndTheConnectionStaysBroken) {
  auto script = full_script();
  script.misbehave[code(Request::GetVringBase)] = Misbehave::Silence;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto base = f->get_vring_base(0);
  ASSERT_FALSE(base);
  EXPECT_EQ(base.error().kind(), ErrorKind::Busy) << base.error().to_string();
  EXPECT_NE(base.error().to_string().find("no reply to GET_VRING_BASE"), std::string::npos);
  EXPECT_FALSE(f->connected());
  // A late answer can never be read as the reply to a later request: every call now fails at once.
  const auto sent = backend.requests().size();
  auto again = f->set_vring_num(0, 8);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().to_string().find("the backend connection is broken"), std::string::npos);
  EXPECT_EQ(backend.requests().size(), sent);
}

TEST(VhostFrontend, SilenceDuringNegotiationTimesOut) {
  auto script = full_script();
  script.misbehave[code(Request::GetProtocolFeatures)] = Misbehave::Silence;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind(), ErrorKind::Busy);
}

TEST(VhostFrontend, BackendClosingMidReplyIsUnavailable) {
  auto script = full_script();
  script.misbehave[code(Request::GetQueueNum)] = Misbehave::HangUpMidReply;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind(), ErrorKind::Unavailable) << f.error().to_string();
}

TEST(VhostFrontend, BackendHangingUpIsUnavailableNotACrash) {
  auto script = full_script();
  script.misbehave[code(Request::SetVringNum)] = Misbehave::HangUp;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  // With REPLY_ACK the frontend waits for the acknowledgement and sees the hang-up.
  auto r = f->set_vring_num(0, 8);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Unavailable);
  // The next request writes to a closed socket: an error, not SIGPIPE.
  EXPECT_FALSE(f->set_vring_base(0, 0));
}

TEST(VhostFrontend, ImpossibleQueueCountsAreRefused) {
  for (const std::uint64_t queues : {std::uint64_t{0}, kMaxBackendQueues + 1, ~std::uint64_t{0}}) {
    auto script = full_script();
    script.queue_num = queues;
    ScriptedBackend backend(script);
    auto f = Frontend::start(backend.take_channel(), quick());
    ASSERT_FALSE(f) << queues;
    EXPECT_EQ(f.error().kind(), ErrorKind::ProtocolViolation);
  }
}

TEST(VhostFrontend, GetVringBaseMustNameTheRingAskedAbout) {
  auto script = full_script();
  script.replace.emplace(code(Request::GetVringBase), reply_with(Request::GetVringBase, bytes(VringState{1, 5})));
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto base = f->get_vring_base(0);
  ASSERT_FALSE(base);
  EXPECT_EQ(base.error().kind(), ErrorKind::ProtocolViolation);
  EXPECT_FALSE(f->connected());
}

TEST(VhostFrontend, GetConfigChecksOffsetSizeAndLength) {
  auto script = full_script();
  script.config = {1, 2, 3, 4, 5, 6, 7, 8};
  {
    ScriptedBackend backend(script);
    auto f = Frontend::start(backend.take_channel(), quick());
    ASSERT_TRUE(f);
    auto config = f->get_config(2, 4);
    ASSERT_TRUE(config) << config.error().to_string();
    EXPECT_EQ(*config, (std::vector<std::uint8_t>{3, 4, 5, 6}));
    EXPECT_FALSE(f->get_config(0, kMaxConfigSize + 1)) << "more than the protocol allows is never asked";
  }
  struct Case {
    const char* name;
    ConfigHeader header;
    std::size_t data;
    ErrorKind kind;
  };
  const Case cases[] = {
      {"oversized: more bytes than asked", {0, 8, 0}, 300, ErrorKind::ProtocolViolation},
      {"size field above what was asked", {0, 300, 0}, 300, ErrorKind::ProtocolViolation},
      {"other offset", {4, 8, 0}, 8, ErrorKind::ProtocolViolation},
      {"fewer bytes than its size field", {0, 8, 0}, 4, ErrorKind::ProtocolViolation},
      {"size 0: the backend's refusal", {0, 0, 0}, 0, ErrorKind::Unsupported},
  };
  for (const auto& c : cases) {
    auto s = script;
    auto payload = bytes(c.header);
    payload.resize(payload.size() + c.data, 0xee);
    s.replace.emplace(code(Request::GetConfig), reply_with(Request::GetConfig, payload));
    ScriptedBackend backend(s);
    auto f = Frontend::start(backend.take_channel(), quick());
    ASSERT_TRUE(f);
    auto config = f->get_config(0, 8);
    ASSERT_FALSE(config) << c.name;
    EXPECT_EQ(config.error().kind(), c.kind) << c.name << ": " << config.error().to_string();
  }
  // A header shorter than GET_CONFIG's own.
  auto s = script;
  s.replace.emplace(code(Request::GetConfig), reply_with(Request::GetConfig, {1, 2}));
  ScriptedBackend backend(s);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->get_config(0, 8));
}

TEST(VhostFrontend, ConfigNeedsTheConfigProtocolFeature) {
  auto script = full_script();
  script.protocol_features &= ~pf::kConfig;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto config = f->get_config(0, 8);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(backend.count(Request::GetConfig), 0U);
}

TEST(VhostFrontend, ARefusedRequestLeavesTheConnectionUp) {
  auto script = full_script();
  script.nack[code(Request::SetVringNum)] = 1;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto r = f->set_vring_num(0, 8);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Unsupported);
  EXPECT_TRUE(f->connected());
  EXPECT_TRUE(f->set_vring_base(0, 0));
}

TEST(VhostFrontend, ReplyAckOfTheWrongSizeBreaksTheConnection) {
  auto script = full_script();
  script.replace.emplace(code(Request::SetVringNum), reply_with(Request::SetVringNum, bytes(std::uint32_t{0})));
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto r = f->set_vring_num(0, 8);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::ProtocolViolation);
  EXPECT_FALSE(f->connected());
}

TEST(VhostFrontend, MemTableSendsEachMemfdWithItsAddressInThisProcess) {
  ScriptedBackend backend(full_script());
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  const RegionSpec specs[] = {{0, 0x10000}, {0x100000, 0x20000}};
  auto memory = GuestMemory::create(specs, Backing::Memfd);
  ASSERT_TRUE(memory);
  ASSERT_TRUE(f->set_mem_table(*memory));
  auto sent = backend.last(Request::SetMemTable);
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->payload.size(), sizeof(MemoryTableHeader) + 2 * sizeof(MemoryRegion));
  ASSERT_EQ(sent->fds.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    MemoryRegion region;
    std::memcpy(&region, sent->payload.data() + sizeof(MemoryTableHeader) + i * sizeof region, sizeof region);
    const auto& mine = memory->regions()[i];
    EXPECT_EQ(region.guest_address, mine->guest_base());
    EXPECT_EQ(region.size, mine->size());
    EXPECT_EQ(region.user_address, std::bit_cast<std::uintptr_t>(mine->host().data()));
    EXPECT_EQ(region.mmap_offset, 0U);
    struct stat theirs {
    }, ours{};
    ASSERT_EQ(::fstat(sent->fds[i].get(), &theirs), 0);
    ASSERT_EQ(::fstat(mine->memfd(), &ours), 0);
    EXPECT_EQ(theirs.st_ino, ours.st_ino) << "region " << i << " came with its own memfd";
  }
  // Anonymous memory cannot be shared: refused before anything is sent.
  auto anonymous = GuestMemory::create(std::span(specs, 1));
  ASSERT_TRUE(anonymous);
  const auto before = backend.count(Request::SetMemTable);
  auto r = f->set_mem_table(*anonymous);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(backend.count(Request::SetMemTable), before);
}

TEST(VhostFrontend, NothingListeningIsAnError) {
  auto f = Frontend::connect("/nonexistent/vhost-user.sock", quick());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind(), ErrorKind::Unavailable) << f.error().to_string();
}

}  // namespace
}  // namespace hv::vhost
