#pragma once
// A scripted vhost-user backend for the frontend's tests: it answers the frontend over one end of a
// Channel::pair() on a thread of its own, records every request it receives (with its descriptors),
// and lets a test replace its answer to any request with a hostile one (a wrong code, size or flags,
// silence, a hang-up in the middle of a reply).

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hv/vhost/channel.hpp"

namespace hv::vhost::testing {

// What the backend does instead of its normal answer.
enum class Misbehave : std::uint8_t {
  None,             // answer normally
  Silence,          // read the request, answer nothing
  HangUp,           // close the connection
  HangUpMidReply,   // send a reply header announcing 8 bytes, then close
  HangUpAfterReply  // answer normally, then close
};

// A reply as raw parts (copyable: scripts are copied between test cases).
struct RawReply {
  Header header;
  std::vector<std::uint8_t> payload;
};

class ScriptedBackend {
 public:
  struct Script {
    std::uint64_t features = (1ULL << 32) | (1ULL << 30);  // VERSION_1 | PROTOCOL_FEATURES
    std::uint64_t protocol_features = 0;
    std::uint64_t queue_num = 1;
    std::vector<std::uint8_t> config;
    std::uint32_t vring_base = 0;  // GET_VRING_BASE's num
    // Per request code: a reply sent instead of the normal one (nullopt: normal), or a misbehaviour.
    std::map<std::uint32_t, RawReply> replace;
    std::map<std::uint32_t, Misbehave> misbehave;
    std::map<std::uint32_t, std::uint64_t> nack;  // REPLY_ACK status to answer with (non-zero: refused)
    // GET_INFLIGHT_FD: a memfd of inflight_file_size bytes (0: inflight_size) announced as inflight_size
    // bytes at inflight_offset, sent inflight_fds times; an eventfd instead with inflight_not_a_file.
    std::uint64_t inflight_size = 4096;
    std::uint64_t inflight_offset = 0;
    std::uint64_t inflight_file_size = 0;
    int inflight_fds = 1;
    bool inflight_not_a_file = false;
  };

  explicit ScriptedBackend(Script script) : script_(std::move(script)) {
    auto pair = Channel::pair();
    if (!pair) std::abort();
    frontend_end_ = std::move(pair->first);
    backend_ = std::move(pair->second);
    thread_ = std::thread([this] { serve(); });
  }
  // Over a connection a listening socket accepted (a frontend that connects by path).
  ScriptedBackend(Script script, Channel accepted) : script_(std::move(script)), backend_(std::move(accepted)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedBackend() {
    stop_ = true;
    thread_.join();
  }
  ScriptedBackend(const ScriptedBackend&) = delete;
  ScriptedBackend& operator=(const ScriptedBackend&) = delete;

  // The frontend's end (once).
  Channel take_channel() { return std::move(frontend_end_); }

  // The requests received so far, in order.
  std::vector<std::uint32_t> requests() const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint32_t> codes;
    for (const auto& m : received_) codes.push_back(m.request());
    return codes;
  }
  // Waits (up to 10 s) until `n` requests have arrived: requests without REPLY_ACK get no answer the
  // frontend waits for.
  bool wait_requests(std::size_t n) const {
    for (int i = 0; i < 10000; ++i) {
      {
        std::lock_guard lock(mutex_);
        if (received_.size() >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  // The last request with `code` (its payload and descriptors), or nullopt.
  std::optional<Message> last(Request code) const {
    std::lock_guard lock(mutex_);
    for (auto it = received_.rbegin(); it != received_.rend(); ++it) {
      if (it->request() == static_cast<std::uint32_t>(code)) {
        Message copy;
        copy.header = it->header;
        copy.payload = it->payload;
        for (const auto& fd : it->fds) copy.fds.emplace_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
        return copy;
      }
    }
    return std::nullopt;
  }
  std::size_t count(Request code) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : received_) n += m.request() == static_cast<std::uint32_t>(code) ? 1 : 0;
    return n;
  }
  // Whether the backend has hung up (a HangUp script ran) or the frontend closed the connection.
  bool closed() const { return closed_; }
  // Closes the backend's end now: the backend process died.
  void die() { kill_ = true; }

 private:
  static Message raw_reply(std::uint32_t request, std::vector<std::uint8_t> payload) {
    Message m;
    m.header = {request, kVersion | kFlagReply, static_cast<std::uint32_t>(payload.size())};
    m.payload = std::move(payload);
    return m;
  }

  void serve() {
    while (!stop_) {
      if (kill_) {
        backend_ = Channel(UniqueFd());
        closed_ = true;
        return;
      }
      auto m = backend_.receive(std::chrono::milliseconds(20));
      if (!m) {
        if (m.error().kind() == ErrorKind::Busy) continue;
        closed_ = true;
        return;
      }
      const std::uint32_t code = m->request();
      const bool need_reply = m->needs_reply();
      {
        std::lock_guard lock(mutex_);
        received_.push_back(std::move(*m));
      }
      const auto misbehaviour = script_.misbehave.find(code);
      const bool hang_up_after =
          misbehaviour != script_.misbehave.end() && misbehaviour->second == Misbehave::HangUpAfterReply;
      if (auto it = misbehaviour; it != script_.misbehave.end() && !hang_up_after) {
        if (it->second == Misbehave::Silence) continue;
        if (it->second == Misbehave::HangUpMidReply) {
          // The header alone, announcing 8 bytes that never come.
          const Header h{code, kVersion | kFlagReply, 8};
          std::array<std::uint8_t, sizeof(Header)> bytes{};
          std::memcpy(bytes.data(), &h, sizeof h);
          (void)::send(backend_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        }
        if (it->second != Misbehave::None) {
          backend_ = Channel(UniqueFd());
          closed_ = true;
          return;
        }
      }
      if (code == static_cast<std::uint32_t>(Request::GetInflightFd) && !script_.replace.contains(code)) {
        answer_inflight();
        continue;
      }
      if (auto it = script_.replace.find(code); it != script_.replace.end()) {
        Message replacement;
        replacement.header = it->second.header;
        replacement.payload = it->second.payload;
        (void)backend_.send(replacement);
        continue;
      }
      std::optional<Message> reply = answer(code);
      if (reply) {
        (void)backend_.send(*reply);
      } else if (need_reply) {
        const auto nack = script_.nack.find(code);
        (void)backend_.send(raw_reply(code, bytes_of(nack == script_.nack.end() ? 0 : nack->second)));
      }
      if (hang_up_after) {
        backend_ = Channel(UniqueFd());
        closed_ = true;
        return;
      }
    }
  }

  void answer_inflight() {
    Inflight asked{};
    {
      std::lock_guard lock(mutex_);
      std::memcpy(&asked, received_.back().payload.data(),
                  std::min<std::size_t>(sizeof asked, received_.back().payload.size()));
    }
    UniqueFd fd(script_.inflight_not_a_file ? ::eventfd(0, EFD_CLOEXEC) : ::memfd_create("inflight", MFD_CLOEXEC));
    if (!script_.inflight_not_a_file) {
      const std::uint64_t size = script_.inflight_file_size != 0 ? script_.inflight_file_size : script_.inflight_size;
      if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) std::abort();
    }
    const Inflight given{script_.inflight_size, script_.inflight_offset, asked.num_queues, asked.queue_size, {}};
    std::vector<int> fds(static_cast<std::size_t>(script_.inflight_fds), fd.get());
    (void)backend_.send(raw_reply(static_cast<std::uint32_t>(Request::GetInflightFd), bytes_of(given)), fds);
  }

  template <class T>
  static std::vector<std::uint8_t> bytes_of(const T& value) {
    std::vector<std::uint8_t> b(sizeof(T));
    std::memcpy(b.data(), &value, sizeof(T));
    return b;
  }

  std::optional<Message> answer(std::uint32_t code) {
    switch (static_cast<Request>(code)) {
      case Request::GetFeatures: return raw_reply(code, bytes_of(script_.features));
      case Request::GetProtocolFeatures: return raw_reply(code, bytes_of(script_.protocol_features));
      case Request::GetQueueNum: return raw_reply(code, bytes_of(script_.queue_num));
      case Request::GetVringBase: {
        std::lock_guard lock(mutex_);
        VringState asked{};
        std::memcpy(&asked, received_.back().payload.data(),
                    std::min<std::size_t>(sizeof asked, received_.back().payload.size()));
        return raw_reply(code, bytes_of(VringState{asked.index, script_.vring_base}));
      }
      case Request::GetConfig: {
        std::lock_guard lock(mutex_);
        ConfigHeader asked{};
        std::memcpy(&asked, received_.back().payload.data(),
                    std::min<std::size_t>(sizeof asked, received_.back().payload.size()));
        std::vector<std::uint8_t> payload = bytes_of(asked);
        for (std::uint32_t i = 0; i < asked.size; ++i)
          payload.push_back(asked.offset + i < script_.config.size() ? script_.config[asked.offset + i]
                                                                     : std::uint8_t{0});
        return raw_reply(code, payload);
      }
      default: return std::nullopt;
    }
  }

  Script script_;
  Channel frontend_end_{UniqueFd()};
  Channel backend_{UniqueFd()};
  mutable std::mutex mutex_;
  std::vector<Message> received_;
  std::atomic<bool> stop_{false}, kill_{false}, closed_{false};
  std::thread thread_;
};

}  // namespace hv::vhost::testing
