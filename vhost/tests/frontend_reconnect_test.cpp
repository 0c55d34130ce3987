// The vhost-user device proxy reconnecting (QEMU's chardev `reconnect`): scripted backends behind a
// listening Unix socket die and come back; the proxy must redo the negotiation and the start sequence
// with the guest's used index, ask for the in-flight region once and hand it to every backend, never
// tell the guest, survive a backend that returns and misbehaves, and never hang a reset.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "hv/event_fd.hpp"
#include "hv/vhost/frontend_device.hpp"
#include "scripted_backend.hpp"

namespace hv::vhost {
namespace {

using testing::Misbehave;
using testing::ScriptedBackend;
namespace pf = protocol_feature;

constexpr std::uint32_t code(Request r) { return static_cast<std::uint32_t>(r); }
constexpr std::uint64_t kRings = 0x10000;
constexpr std::uint64_t kAvailIndex = kRings + 0x1000 + 2;  // the split ring's avail->idx
constexpr std::uint64_t kUsedIndex = kRings + 0x2000 + 2;   // the split ring's used->idx

// A listening socket whose every accepted connection is served by a ScriptedBackend: scripts[i] for
// the i-th connection, the last one for all after it.
class Listener {
 public:
  explicit Listener(std::vector<ScriptedBackend::Script> scripts) : scripts_(std::move(scripts)) {
    std::string dir = (std::filesystem::temp_directory_path() / "hvkit-vhost-reconnect-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/backend.sock";
    start();
  }
  ~Listener() {
    pause();
    backends_.clear();
    std::filesystem::remove_all(dir_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  const std::string& path() const { return path_; }
  // Nothing listens at the path any more (the backend is down and not restarted yet).
  void pause() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    socket_ = UniqueFd();
    ::unlink(path_.c_str());
  }
  void start() {
    socket_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the socket API's address type
    if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    if (::listen(socket_.get(), 8) != 0) std::abort();
    stop_ = false;
    thread_ = std::thread([this] { accept_loop(); });
  }
  // The i-th connection's backend, once it exists (waits up to 10 s; nullptr after that).
  ScriptedBackend* backend(std::size_t i) {
    for (int n = 0; n < 10000; ++n) {
      {
        std::lock_guard lock(mutex_);
        if (backends_.size() > i) return backends_[i].get();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return nullptr;
  }
  std::size_t connections() const {
    std::lock_guard lock(mutex_);
    return backends_.size();
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{socket_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      UniqueFd s(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!s) continue;
      std::lock_guard lock(mutex_);
      const auto& script = scripts_[std::min(backends_.size(), scripts_.size() - 1)];
      backends_.push_back(std::make_unique<ScriptedBackend>(script, Channel(std::move(s))));
    }
  }

  std::vector<ScriptedBackend::Script> scripts_;
  std::string dir_, path_;
  UniqueFd socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<ScriptedBackend>> backends_;
};

ScriptedBackend::Script inflight_script() {
  ScriptedBackend::Script s;
  s.features = (1ULL << 32) | (1ULL << 30) | virtio::kFeatureEventIdx | (1ULL << 9);
  s.protocol_features = pf::kReplyAck | pf::kConfig | pf::kInflightShmfd | pf::kMq;
  s.queue_num = 1;
  s.config.resize(60, 0x11);
  return s;
}

FrontendOptions quick() {
  FrontendOptions o;
  o.timeout = std::chrono::milliseconds(300);
  return o;
}

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 10000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

std::vector<std::uint32_t> codes(std::initializer_list<Request> requests) {
  std::vector<std::uint32_t> v;
  for (auto r : requests) v.push_back(code(r));
  return v;
}

ino_t inode(const Message& m) {
  struct stat st {};
  EXPECT_EQ(m.fds.size(), 1U);
  if (m.fds.empty() || ::fstat(m.fds[0].get(), &st) != 0) return 0;
  return st.st_ino;
}

class VhostReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const RegionSpec spec{0, 0x100000};
    auto memory = GuestMemory::create(std::span(&spec, 1), Backing::Memfd);
    ASSERT_TRUE(memory);
    memory_ = std::make_shared<const GuestMemory>(std::move(*memory));
  }
  std::shared_ptr<VhostUserDevice> connect(const Listener& listener, std::chrono::milliseconds interval) {
    auto options = vhost_user_blk_options();
    options.reconnect_interval = interval;
    options.on_disconnect = [this](const Error&, bool reconnecting) {
      ++disconnects_;
      reconnecting_reported_ = reconnecting;
    };
    options.on_reconnect = [this] { ++reconnected_; };
    auto d = VhostUserDevice::connect(listener.path(), std::move(options), quick());
    EXPECT_TRUE(d) << d.error().to_string();
    return d ? *d : nullptr;
  }
  std::vector<std::pair<std::uint16_t, virtio::Queue>> one_split_queue(std::uint16_t next_avail) {
    auto q = virtio::SplitQueue::restore(*memory_, {8, kRings, kRings + 0x1000, kRings + 0x2000, false},
                                         {next_avail, next_avail});
    EXPECT_TRUE(q);
    std::vector<std::pair<std::uint16_t, virtio::Queue>> queues;
    queues.emplace_back(0, virtio::Queue(*q));
    return queues;
  }
  virtio::DeviceSignals signals() {
    return {[this](std::uint16_t) { ++used_; }, [this] { ++needs_reset_; }};
  }

  std::shared_ptr<const GuestMemory> memory_;
  std::atomic<int> used_{0}, needs_reset_{0}, disconnects_{0}, reconnected_{0};
  std::atomic<bool> reconnecting_reported_{false};
};

const std::vector<std::uint32_t> kNegotiation =
    codes({Request::GetFeatures, Request::GetProtocolFeatures, Request::SetProtocolFeatures, Request::SetOwner,
           Request::GetQueueNum});

TEST_F(VhostReconnectTest, CrashedBackendIsReplacedWithTheSameStartSequenceAtTheGuestsUsedIndex) {
  Listener listener({inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  const std::uint64_t features = (1ULL << 32) | (1ULL << 9);
  ASSERT_TRUE(device->activate(memory_, features, one_split_queue(5), signals()));
  ScriptedBackend* first = listener.backend(0);
  ASSERT_NE(first, nullptr);
  auto first_start = kNegotiation;
  first_start.push_back(code(Request::GetConfig));
  for (auto c : codes({Request::SetFeatures, Request::GetInflightFd, Request::SetInflightFd, Request::SetMemTable,
                       Request::SetVringNum, Request::SetVringBase, Request::SetVringAddr, Request::SetVringKick,
                       Request::SetVringCall, Request::SetVringEnable}))
    first_start.push_back(c);
  EXPECT_EQ(first->requests(), first_start);
  auto asked = payload_as<Inflight>(*first->last(Request::GetInflightFd));
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->mmap_size, 0U);
  EXPECT_EQ(asked->num_queues, 1);
  EXPECT_EQ(asked->queue_size, 256) << "the device's maximum queue size, as QEMU asks";
  EXPECT_EQ(payload_as<VringState>(*first->last(Request::SetVringBase))->num, 5U);
  const ino_t region = inode(*first->last(Request::SetInflightFd));
  ASSERT_NE(region, 0U);

  // The backend completed three requests, then died; the guest made more available meanwhile (a
  // ring the call thread's check accepts: the used index never ahead of the available one).
  ASSERT_TRUE(memory_->store<std::uint16_t>(kAvailIndex, 10, std::memory_order_release));
  ASSERT_TRUE(memory_->store<std::uint16_t>(kUsedIndex, 3, std::memory_order_release));
  first->die();
  ASSERT_TRUE(eventually([&] { return device->reconnects() == 1; }));
  ScriptedBackend* second = listener.backend(1);
  ASSERT_NE(second, nullptr);
  auto restart = kNegotiation;
  for (auto c : codes({Request::SetFeatures, Request::SetInflightFd, Request::SetMemTable, Request::SetVringNum,
                       Request::SetVringBase, Request::SetVringAddr, Request::SetVringKick, Request::SetVringCall,
                       Request::SetVringEnable}))
    restart.push_back(c);
  EXPECT_EQ(second->requests(), restart) << "no GET_CONFIG, no GET_INFLIGHT_FD on a reconnect";
  EXPECT_EQ(*payload_as<std::uint64_t>(*second->last(Request::SetFeatures)), features | (1ULL << 30));
  EXPECT_EQ(payload_as<VringState>(*second->last(Request::SetVringBase))->num, 3U)
      << "the used index the guest's ring shows, not the available position";
  EXPECT_EQ(inode(*second->last(Request::SetInflightFd)), region) << "the first backend's region, handed back";
  EXPECT_EQ(payload_as<Inflight>(*second->last(Request::SetInflightFd))->mmap_size, 4096U);
  // The kick eventfd the new backend got is already signalled: requests made while it was down.
  auto kick = EventFd::duplicate(second->last(Request::SetVringKick)->fds[0].get());
  ASSERT_TRUE(kick);
  EXPECT_TRUE(kick->consume());
  // Kicks and calls flow through the new connection.
  device->notify(0);
  EXPECT_EQ(kick->consume().value_or(0), 1U);
  ASSERT_TRUE(EventFd::duplicate(second->last(Request::SetVringCall)->fds[0].get())->signal());
  ASSERT_TRUE(eventually([&] { return used_ > 0; }));
  EXPECT_EQ(needs_reset_, 0) << "the guest keeps its device";
  EXPECT_EQ(disconnects_, 1);
  EXPECT_TRUE(reconnecting_reported_);
  EXPECT_EQ(reconnected_, 1);
  EXPECT_TRUE(device->connected());

  // A second crash: SET_INFLIGHT_FD again, the same region; still no GET_INFLIGHT_FD.
  ASSERT_TRUE(memory_->store<std::uint16_t>(kUsedIndex, 9, std::memory_order_release));
  second->die();
  ASSERT_TRUE(eventually([&] { return device->reconnects() == 2; }));
  ScriptedBackend* third = listener.backend(2);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->requests(), restart);
  EXPECT_EQ(payload_as<VringState>(*third->last(Request::SetVringBase))->num, 9U);
  EXPECT_EQ(inode(*third->last(Request::SetInflightFd)), region);
  EXPECT_EQ(needs_reset_, 0);
  EXPECT_EQ(disconnects_, 2);
}

TEST_F(VhostReconnectTest, ReturningBackendThatMisbehavesIsDroppedAndTheNextOneServes) {
  auto silent = inflight_script();
  silent.misbehave[code(Request::SetMemTable)] = Misbehave::Silence;
  auto hangs_up = inflight_script();
  hangs_up.misbehave[code(Request::SetVringAddr)] = Misbehave::HangUp;
  auto bad_position = inflight_script();  // answers SET_VRING_BASE's ack with garbage flags
  bad_position.replace.emplace(
      code(Request::SetVringBase),
      testing::RawReply{{code(Request::SetVringBase), kVersion, 8}, std::vector<std::uint8_t>(8)});
  auto fewer_features = inflight_script();
  fewer_features.features &= ~(1ULL << 9);  // the guest negotiated FLUSH
  Listener listener({inflight_script(), silent, hangs_up, bad_position, fewer_features, inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, (1ULL << 32) | (1ULL << 9), one_split_queue(0), signals()));
  listener.backend(0)->die();
  ASSERT_TRUE(eventually([&] { return device->reconnects() == 1; }));
  EXPECT_EQ(listener.connections(), 6U) << "four attempts failed, the sixth connection serves";
  EXPECT_EQ(listener.backend(4)->count(Request::SetFeatures), 0U) << "an offer without FLUSH: refused before use";
  ScriptedBackend* last = listener.backend(5);
  EXPECT_EQ(last->count(Request::SetVringEnable), 1U);
  EXPECT_EQ(last->count(Request::GetInflightFd), 0U);
  EXPECT_EQ(needs_reset_, 0);
  EXPECT_EQ(disconnects_, 1) << "a connection that never served is not reported";
  EXPECT_TRUE(device->connected());
}

TEST_F(VhostReconnectTest, ABackendThatHangsUpRightAfterTheStartSequenceIsReportedAndReplacedAgain) {
  auto short_lived = inflight_script();
  short_lived.misbehave[code(Request::SetVringEnable)] = Misbehave::HangUpAfterReply;
  Listener listener({inflight_script(), short_lived, inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(0), signals()));
  listener.backend(0)->die();
  // The second connection is installed (its start sequence was acknowledged) and hangs up at once:
  // that loss must be reported and repaired like the first.
  ASSERT_TRUE(eventually([&] { return device->reconnects() == 2; }));
  EXPECT_EQ(disconnects_, 2);
  ASSERT_NE(listener.backend(2), nullptr);
  EXPECT_EQ(listener.backend(2)->count(Request::SetVringEnable), 1U);
  EXPECT_TRUE(device->connected());
  EXPECT_EQ(needs_reset_, 0);
}

TEST_F(VhostReconnectTest, ResetDuringTheOutageReturnsAndTheReturningBackendIsOnlyNegotiated) {
  Listener listener({inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(0), signals()));
  listener.pause();
  listener.backend(0)->die();
  ASSERT_TRUE(eventually([&] { return disconnects_ == 1; }));
  EXPECT_FALSE(device->connected());
  device->reset();  // must return: no backend to wait for
  device->notify(0);
  EXPECT_EQ(needs_reset_, 0);
  listener.start();
  ASSERT_TRUE(eventually([&] { return device->reconnects() == 1; }));
  ScriptedBackend* second = listener.backend(1);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->requests(), kNegotiation) << "the device is not active: nothing to start";
  // The driver starts again: a new in-flight region (the reset dropped the old one).
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(0), signals()));
  EXPECT_EQ(second->count(Request::GetInflightFd), 1U);
  EXPECT_EQ(second->count(Request::SetInflightFd), 1U);
}

TEST_F(VhostReconnectTest, DestroyingTheDeviceWhileNothingListensEnds) {
  Listener listener({inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(0), signals()));
  listener.pause();
  listener.backend(0)->die();
  ASSERT_TRUE(eventually([&] { return disconnects_ == 1; }));
  device.reset();  // joins the reconnect thread between attempts
  EXPECT_EQ(needs_reset_, 0);
}

TEST_F(VhostReconnectTest, WithoutAnIntervalTheDeviceNeedsAReset) {
  Listener listener({inflight_script()});
  auto device = connect(listener, std::chrono::milliseconds(0));
  ASSERT_TRUE(device);
  ASSERT_TRUE(device->activate(memory_, 1ULL << 32, one_split_queue(0), signals()));
  listener.backend(0)->die();
  ASSERT_TRUE(eventually([&] { return needs_reset_ == 1; }));
  EXPECT_FALSE(reconnecting_reported_);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(listener.connections(), 1U);
}

TEST_F(VhostReconnectTest, APackedRingCannotBeResumedAndFallsBackToNeedsReset) {
  auto script = inflight_script();
  script.features |= virtio::kFeatureRingPacked;
  Listener listener({script});
  auto device = connect(listener, std::chrono::milliseconds(10));
  ASSERT_TRUE(device);
  auto packed =
      virtio::PackedQueue::restore(*memory_, {8, kRings, kRings + 0x1000, kRings + 0x2000, false}, {0, true, 0, true});
  ASSERT_TRUE(packed);
  std::vector<std::pair<std::uint16_t, virtio::Queue>> queues;
  queues.emplace_back(0, virtio::Queue(*packed));
  ASSERT_TRUE(device->activate(memory_, (1ULL << 32) | virtio::kFeatureRingPacked, queues, signals()));
  listener.backend(0)->die();
  ASSERT_TRUE(eventually([&] { return needs_reset_ == 1; }));
  EXPECT_FALSE(reconnecting_reported_);
}

// GET_INFLIGHT_FD's reply, checked before the descriptor is kept.
struct BadInflight {
  const char* name;
  void (*apply)(ScriptedBackend::Script&);
};

class VhostInflightReply : public ::testing::TestWithParam<BadInflight> {};

TEST_P(VhostInflightReply, IsAProtocolViolation) {
  auto script = inflight_script();
  GetParam().apply(script);
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f) << f.error().to_string();
  auto region = f->get_inflight_fd(1, 256);
  ASSERT_FALSE(region) << GetParam().name;
  EXPECT_EQ(region.error().kind(), ErrorKind::ProtocolViolation) << region.error().to_string();
  EXPECT_FALSE(f->connected());
}

INSTANTIATE_TEST_SUITE_P(
    Replies, VhostInflightReply,
    ::testing::Values(BadInflight{"no descriptor", [](ScriptedBackend::Script& s) { s.inflight_fds = 0; }},
                      BadInflight{"two descriptors", [](ScriptedBackend::Script& s) { s.inflight_fds = 2; }},
                      BadInflight{"an eventfd", [](ScriptedBackend::Script& s) { s.inflight_not_a_file = true; }},
                      BadInflight{"size 0",
                                  [](ScriptedBackend::Script& s) {
                                    s.inflight_size = 0;
                                    s.inflight_file_size = 4096;
                                  }},
                      BadInflight{"over 64 MiB",
                                  [](ScriptedBackend::Script& s) {
                                    s.inflight_size = kMaxInflightSize + 4096;
                                    s.inflight_file_size = 4096;
                                  }},
                      BadInflight{"a file shorter than announced",
                                  [](ScriptedBackend::Script& s) { s.inflight_file_size = 100; }},
                      BadInflight{"an unaligned offset", [](ScriptedBackend::Script& s) {
                                    s.inflight_offset = 12;
                                    s.inflight_file_size = 8192;
                                  }}));

TEST(VhostInflight, TheRegionIsKeptWithThisFrontendsQueueDescription) {
  auto script = inflight_script();
  script.inflight_offset = 4096;
  script.inflight_file_size = 8192;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto region = f->get_inflight_fd(1, 128);
  ASSERT_TRUE(region) << region.error().to_string();
  EXPECT_EQ(region->description.mmap_size, 4096U);
  EXPECT_EQ(region->description.mmap_offset, 4096U);
  EXPECT_EQ(region->description.queue_size, 128);
  ASSERT_TRUE(f->set_inflight_fd(*region));
  auto sent = backend.last(Request::SetInflightFd);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->fds.size(), 1U);
  EXPECT_EQ(payload_as<Inflight>(*sent)->mmap_offset, 4096U);
}

TEST(VhostInflight, NotOfferedNotAsked) {
  auto script = inflight_script();
  script.protocol_features &= ~pf::kInflightShmfd;
  ScriptedBackend backend(script);
  auto f = Frontend::start(backend.take_channel(), quick());
  ASSERT_TRUE(f);
  auto region = f->get_inflight_fd(1, 128);
  ASSERT_FALSE(region);
  EXPECT_EQ(region.error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(backend.count(Request::GetInflightFd), 0U);
}

}  // namespace
}  // namespace hv::vhost
