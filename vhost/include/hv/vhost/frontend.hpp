#pragma once
// The frontend (VMM) end of one vhost-user connection: negotiation and the requests that drive a
// backend's rings (QEMU docs/interop/vhost-user.rst, as QEMU 7.2's hw/virtio/vhost-user.c sends them).
//
// The backend is another process and untrusted. Every wait for it is bounded (FrontendOptions::timeout
// for each reply, Channel's limit for the rest of a message), and every reply is checked before use:
// the request code it echoes, exactly VERSION | REPLY in its flags, its exact payload size, no
// descriptors, and what the request implies (GET_VRING_BASE names the ring asked about, GET_CONFIG the
// offset and size asked for, at most kMaxConfigSize bytes). A reply that fails a check, a timeout or a
// closed socket breaks the connection: the socket is closed (a late reply can never be taken for the
// answer to a later request) and every later call fails at once with the first error. A backend that
// answers a REPLY_ACK request with a non-zero status refused that request only: the connection stays.
//
// Not thread-safe: one caller at a time (VhostUserDevice serialises its calls).

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vhost/channel.hpp"

namespace hv::vhost {

// Protocol features this frontend uses when the backend offers them.
inline constexpr std::uint64_t kFrontendProtocolFeatures =
    protocol_feature::kMq | protocol_feature::kReplyAck | protocol_feature::kConfig |
    protocol_feature::kConfigureMemSlots | protocol_feature::kStatus | protocol_feature::kResetDevice |
    protocol_feature::kInflightShmfd;

// The most queues a backend may announce (GET_QUEUE_NUM): more than virtio-mmio devices here use, and
// a bound on what a hostile answer can make the VMM allocate.
inline constexpr std::uint64_t kMaxBackendQueues = 64;

// The largest in-flight region a backend may hand out with GET_INFLIGHT_FD (libvhost-user's record for
// 64 queues of 1024 entries is about 2.2 MiB): the VMM keeps the descriptor for the device's lifetime.
inline constexpr std::uint64_t kMaxInflightSize = 64ULL << 20;

// The in-flight region a backend gave with GET_INFLIGHT_FD: its memfd and the description to hand back
// with SET_INFLIGHT_FD (to the same backend and to every backend after a reconnect). The frontend never
// maps or reads it: it is the backend's record.
struct InflightRegion {
  UniqueFd fd;
  Inflight description;
};

struct FrontendOptions {
  // How long one reply may take to start arriving (the rest follows within Channel's 5 s).
  std::chrono::milliseconds timeout{5000};
  // Of kFrontendProtocolFeatures, the ones to negotiate (tests turn some off).
  std::uint64_t protocol_features = kFrontendProtocolFeatures;
};

class Frontend {
 public:
  // Connects to the backend listening at `path` and negotiates (see start()).
  static Result<Frontend> connect(const std::string& path, FrontendOptions options = {});
  // Negotiates over a connected channel: GET_FEATURES; when the backend offers
  // VHOST_USER_F_PROTOCOL_FEATURES, GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES with the
  // intersection of its offer and options.protocol_features; SET_OWNER; GET_QUEUE_NUM when MQ was
  // negotiated (1..kMaxBackendQueues).
  static Result<Frontend> start(Channel channel, FrontendOptions options = {});

  // The backend's GET_FEATURES answer, VHOST_USER_F_PROTOCOL_FEATURES included.
  [[nodiscard]] std::uint64_t backend_features() const noexcept { return backend_features_; }
  // What SET_PROTOCOL_FEATURES acknowledged (0 without VHOST_USER_F_PROTOCOL_FEATURES).
  [[nodiscard]] std::uint64_t protocol_features() const noexcept { return protocol_features_; }
  [[nodiscard]] bool has(std::uint64_t protocol_feature) const noexcept {
    return (protocol_features_ & protocol_feature) != 0;
  }
  // GET_QUEUE_NUM's answer when MQ was negotiated.
  [[nodiscard]] std::optional<std::uint16_t> queue_num() const noexcept { return queue_num_; }
  // False once the connection broke; broken_error() says why.
  [[nodiscard]] bool connected() const noexcept { return channel_.valid() && !broken_; }
  [[nodiscard]] std::optional<Error> broken_error() const { return broken_; }
  // The socket, for a thread that watches it for a hang-up (POLLRDHUP); -1 once broken.
  [[nodiscard]] int socket_fd() const noexcept { return channel_.fd(); }

  // SET_FEATURES with `features` (InvalidArgument if it holds a bit the backend did not offer), plus
  // VHOST_USER_F_PROTOCOL_FEATURES when the backend offered it (the backend otherwise enables every
  // ring at its kick, and ignores SET_VRING_ENABLE).
  Result<void> set_features(std::uint64_t features);
  // SET_MEM_TABLE with every region of `memory`: each must be memfd-backed (Backing::Memfd), at most
  // kMaxMemTableRegions of them; userspace_addr is the region's address in this process.
  Result<void> set_mem_table(const GuestMemory& memory);
  Result<void> set_vring_num(std::uint32_t index, std::uint32_t size);
  Result<void> set_vring_base(std::uint32_t index, std::uint32_t position);
  // `addr` holds addresses in this process (the memory table's userspace_addr space).
  Result<void> set_vring_addr(const VringAddr& addr);
  Result<void> set_vring_kick(std::uint32_t index, int eventfd);
  Result<void> set_vring_call(std::uint32_t index, int eventfd);
  // Only with VHOST_USER_F_PROTOCOL_FEATURES (Unsupported otherwise: the ring is enabled by its kick).
  Result<void> set_vring_enable(std::uint32_t index, bool enable);
  // Stops ring `index` and returns its position (split: the next available index; packed: the index
  // in bits 0..14 and the wrap counter in bit 15). The reply must name ring `index`.
  Result<std::uint32_t> get_vring_base(std::uint32_t index);
  // GET_CONFIG of `size` bytes (1..kMaxConfigSize) at `offset`; needs CONFIG. The reply must echo the
  // offset and size; a reply with size 0 is the backend's refusal (Unsupported).
  Result<std::vector<std::uint8_t>> get_config(std::uint32_t offset, std::uint32_t size);
  // SET_CONFIG (flags 0: a driver write) of `data` (1..kMaxConfigSize bytes) at `offset`; needs CONFIG.
  Result<void> set_config(std::uint32_t offset, std::span<const std::uint8_t> data);
  // SET_STATUS (the virtio device status byte); needs STATUS.
  Result<void> set_status(std::uint8_t status);
  // RESET_DEVICE; needs RESET_DEVICE.
  Result<void> reset_device();
  // GET_INFLIGHT_FD {mmap_size 0, mmap_offset 0, num_queues, queue_size}; needs INFLIGHT_SHMFD. The
  // reply must carry exactly one descriptor, of a regular file (a memfd) at least mmap_offset +
  // mmap_size bytes long, with mmap_size 1..kMaxInflightSize and mmap_offset page-aligned and at most
  // kMaxInflightSize; otherwise ProtocolViolation (the connection breaks). The description returned
  // carries this frontend's num_queues and queue_size (what QEMU hands back), the backend's size and offset.
  Result<InflightRegion> get_inflight_fd(std::uint16_t num_queues, std::uint16_t queue_size);
  // SET_INFLIGHT_FD with `region`'s description and descriptor; needs INFLIGHT_SHMFD.
  Result<void> set_inflight_fd(const InflightRegion& region);

 private:
  Frontend(Channel channel, FrontendOptions options) noexcept : channel_(std::move(channel)), options_(options) {}
  // A request with no reply of its own: with REPLY_ACK, NEED_REPLY and the backend's u64 status.
  Result<void> command(Message message, std::span<const int> fds = {});
  // A request that has a reply: the reply, checked (code, flags, no descriptors).
  Result<Message> query(const Message& message, std::size_t reply_fds = 0);
  Result<std::uint64_t> query_u64(Request request);
  // `fds`: the number of descriptors the reply must carry.
  Result<Message> await_reply(std::uint32_t request, std::size_t fds = 0);
  Result<void> send(const Message& message, std::span<const int> fds);
  // Breaks the connection with `error` (the first one is kept) and returns it.
  tl::unexpected<Error> broken(Error error);
  Result<void> check_connected() const;
  Result<void> need(std::uint64_t protocol_feature, Request request) const;

  Channel channel_;
  FrontendOptions options_;
  std::uint64_t backend_features_ = 0;
  std::uint64_t protocol_features_ = 0;
  std::optional<std::uint16_t> queue_num_;
  std::optional<Error> broken_;
};

}  // namespace hv::vhost
