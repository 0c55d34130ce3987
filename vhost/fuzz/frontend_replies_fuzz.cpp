// A hostile backend's replies into the frontend: the input is the byte stream the backend sends, all
// of it queued on the socket before the frontend starts (then the backend's write side shuts, so a
// short stream ends in "peer closed", never in a wait). The frontend negotiates, the blk proxy reads
// its configuration, activates one split queue over memfd guest memory, is kicked, stops and resets.
// Checked besides the sanitizers: the guest is never offered a vhost-user bit (30, 26) or a ring
// feature the transport does not implement, the proxy never exposes more queues or configuration
// than asked, and a stopped queue's position is one GET_VRING_BASE could give.
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <memory>

#include "hv/vhost/frontend_device.hpp"

namespace {

constexpr std::size_t kMaxInput = 16384;  // well under a socket buffer: the writes never block

std::shared_ptr<const hv::GuestMemory> guest_memory() {
  static const auto memory = [] {
    const hv::RegionSpec spec{0, 0x20000};
    auto m = hv::GuestMemory::create(std::span(&spec, 1), hv::Backing::Memfd);
    if (!m) __builtin_trap();
    return std::make_shared<const hv::GuestMemory>(std::move(*m));
  }();
  return memory;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > kMaxInput) return 0;
  auto pair = hv::vhost::Channel::pair();
  if (!pair) return 0;
  auto& [frontend_end, backend_end] = *pair;
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(backend_end.fd(), data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) return 0;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(backend_end.fd(), SHUT_WR);  // the backend reads on (our requests), writes no more
  hv::vhost::FrontendOptions options;
  // Never reached: the whole stream is queued and then ends (EOF is readable at once). Not 1 ms:
  // Channel rounds the time left down to whole milliseconds and would give up before looking.
  options.timeout = std::chrono::milliseconds(1000);
  auto frontend = hv::vhost::Frontend::start(std::move(frontend_end), options);
  if (!frontend) return 0;
  const bool mq = frontend->has(hv::vhost::protocol_feature::kMq);
  if (mq && (!frontend->queue_num() || *frontend->queue_num() == 0)) __builtin_trap();
  auto device = hv::vhost::VhostUserDevice::create(std::move(*frontend), hv::vhost::vhost_user_blk_options());
  if (!device) return 0;
  auto& d = **device;
  const std::uint64_t guest_visible = d.features() | d.ring_features();
  if ((guest_visible & ((1ULL << 30) | (1ULL << 26))) != 0 || (guest_visible & ~hv::vhost::kProxiedFeatures) != 0 ||
      d.queue_count() != 1) {
    __builtin_trap();
  }
  std::array<std::uint8_t, 8> config{};
  d.read_config(56, config);
  if (config[4] != 0 || config[7] != 0) __builtin_trap();  // past the 60 bytes asked for
  auto memory = guest_memory();
  auto split = hv::virtio::SplitQueue::create(*memory, {8, 0x1000, 0x2000, 0x3000, false});
  if (!split) __builtin_trap();
  std::vector<std::pair<std::uint16_t, hv::virtio::Queue>> queues;
  queues.emplace_back(0, hv::virtio::Queue(*split));
  hv::virtio::DeviceSignals signals{[](std::uint16_t index) {
                                      if (index != 0) __builtin_trap();
                                    },
                                    [] {}};
  if (d.activate(memory, hv::virtio::kFeatureVersion1, std::move(queues), signals)) {
    d.notify(0);
    auto stopped = d.stop();
    if (stopped) {
      for (const auto& [index, queue] : *stopped) {
        if (index != 0 || queue.packed()) __builtin_trap();
      }
    }
  }
  d.reset();
  return 0;
}
