// The frontend end of a vhost-user connection: requests out, replies checked before anything in them
// is used (see hv/vhost/frontend.hpp for the rules).
#include "hv/vhost/frontend.hpp"

#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

namespace hv::vhost {
namespace {

constexpr const char* kOp = "vhost-user frontend";

Message u64_message(Request request, std::uint64_t value, bool need_reply = false) {
  return make_message(request, value, need_reply);
}

}  // namespace

Result<Frontend> Frontend::connect(const std::string& path, FrontendOptions options) {
  auto channel = Channel::connect(path);
  if (!channel) return tl::unexpected(channel.error());
  return start(std::move(*channel), options);
}

Result<Frontend> Frontend::start(Channel channel, FrontendOptions options) {
  Frontend f(std::move(channel), options);
  auto features = f.query_u64(Request::GetFeatures);
  if (!features) return tl::unexpected(features.error());
  f.backend_features_ = *features;
  if ((f.backend_features_ & kFeatureProtocolFeatures) != 0) {
    auto offered = f.query_u64(Request::GetProtocolFeatures);
    if (!offered) return tl::unexpected(offered.error());
    // Only what both sides know: a bit this frontend did not ask for is never acknowledged.
    const std::uint64_t acked = *offered & options.protocol_features & kFrontendProtocolFeatures;
    // REPLY_ACK applies from the next request on: SET_PROTOCOL_FEATURES itself goes without it.
    if (auto r = f.send(u64_message(Request::SetProtocolFeatures, acked), {}); !r) return tl::unexpected(r.error());
    f.protocol_features_ = acked;
  }
  if (auto r = f.command(make_message(Request::SetOwner)); !r) return tl::unexpected(r.error());
  if (f.has(protocol_feature::kMq)) {
    auto queues = f.query_u64(Request::GetQueueNum);
    if (!queues) return tl::unexpected(queues.error());
    if (*queues == 0 || *queues > kMaxBackendQueues) {
      return f.broken(Error(ErrorKind::ProtocolViolation, kOp,
                            "GET_QUEUE_NUM answered " + std::to_string(*queues) + " queues (expected 1 to " +
                                std::to_string(kMaxBackendQueues) + ")"));
    }
    f.queue_num_ = static_cast<std::uint16_t>(*queues);
  }
  return f;
}

Result<void> Frontend::check_connected() const {
  if (broken_) return tl::unexpected(*broken_);
  if (!channel_.valid()) return fail(ErrorKind::Unavailable, kOp, "not connected");
  return {};
}

Result<void> Frontend::need(std::uint64_t protocol_feature, Request request) const {
  if (!has(protocol_feature)) {
    return fail(ErrorKind::Unsupported, kOp,
                describe(static_cast<std::uint32_t>(request)) + " needs a protocol feature the backend did not offer");
  }
  return {};
}

tl::unexpected<Error> Frontend::broken(Error error) {
  if (!broken_) {
    broken_ =
        Error(error.kind(), error.operation(), "the backend connection is broken: " + std::string(error.message()));
  }
  channel_ = Channel(UniqueFd());  // closes the socket: nothing late can be read as a reply
  return tl::unexpected(std::move(error));
}

Result<void> Frontend::send(const Message& message, std::span<const int> fds) {
  if (auto r = check_connected(); !r) return r;
  if (auto r = channel_.send(message, fds); !r) return broken(r.error());
  return {};
}

Result<Message> Frontend::await_reply(std::uint32_t request, std::size_t fds) {
  auto reply = channel_.receive(options_.timeout);
  if (!reply) {
    if (reply.error().kind() == ErrorKind::Busy) {
      return broken(
          Error(ErrorKind::Busy, kOp,
                "no reply to " + describe(request) + " within " + std::to_string(options_.timeout.count()) + " ms"));
    }
    return broken(reply.error());
  }
  if (reply->request() != request) {
    return broken(Error(ErrorKind::ProtocolViolation, kOp,
                        "the reply to " + describe(request) + " came as " + describe(reply->request())));
  }
  if (reply->header.flags != (kVersion | kFlagReply)) {
    return broken(Error(ErrorKind::ProtocolViolation, kOp,
                        "the reply to " + describe(request) + " has flags " + hex(reply->header.flags) +
                            " (expected VERSION | REPLY, 0x5)"));
  }
  if (auto r = expect_fds(*reply, fds, fds); !r) return broken(r.error());
  return std::move(*reply);
}

Result<Message> Frontend::query(const Message& message, std::size_t reply_fds) {
  if (auto r = send(message, {}); !r) return tl::unexpected(r.error());
  return await_reply(message.header.request, reply_fds);
}

Result<std::uint64_t> Frontend::query_u64(Request request) {
  auto reply = query(make_message(request));
  if (!reply) return tl::unexpected(reply.error());
  auto value = payload_as<std::uint64_t>(*reply);
  if (!value) return broken(value.error());
  return *value;
}

Result<void> Frontend::command(Message message, std::span<const int> fds) {
  const bool ack = has(protocol_feature::kReplyAck);
  if (ack) message.header.flags |= kFlagNeedReply;
  if (auto r = send(message, fds); !r) return r;
  if (!ack) return {};
  auto reply = await_reply(message.header.request);
  if (!reply) return tl::unexpected(reply.error());
  auto status = payload_as<std::uint64_t>(*reply);
  if (!status) return broken(status.error());
  if (*status != 0) {
    return fail(
        ErrorKind::Unsupported, kOp,
        "the backend refused " + describe(message.header.request) + " (status " + std::to_string(*status) + ")");
  }
  return {};
}

Result<void> Frontend::set_features(std::uint64_t features) {
  const std::uint64_t unoffered = features & ~backend_features_;
  if (unoffered != 0) {
    return fail(ErrorKind::InvalidArgument, kOp, "SET_FEATURES: bits " + hex(unoffered) + " the backend did not offer");
  }
  return command(u64_message(Request::SetFeatures, features | (backend_features_ & kFeatureProtocolFeatures)));
}

Result<void> Frontend::set_mem_table(const GuestMemory& memory) {
  const auto regions = memory.regions();
  if (regions.empty() || regions.size() > kMaxMemTableRegions) {
    return fail(ErrorKind::InvalidArgument, kOp,
                "SET_MEM_TABLE takes 1 to 8 regions, guest memory has " + std::to_string(regions.size()));
  }
  Message m;
  m.header = {static_cast<std::uint32_t>(Request::SetMemTable), kVersion,
              static_cast<std::uint32_t>(sizeof(MemoryTableHeader) + sizeof(MemoryRegion) * regions.size())};
  m.payload.resize(m.header.size);
  const MemoryTableHeader table{static_cast<std::uint32_t>(regions.size()), 0};
  std::memcpy(m.payload.data(), &table, sizeof table);
  std::vector<int> fds;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const GuestRegion& region = *regions[i];
    if (region.backing() != Backing::Memfd || region.memfd() < 0) {
      return fail(
          ErrorKind::InvalidArgument, kOp,
          "guest memory at " + hex(region.guest_base()) + " is not memfd-backed: a vhost-user backend cannot map it");
    }
    // The region's address in this process is what SET_VRING_ADDR's ring addresses refer to.
    const MemoryRegion wire{region.guest_base(), region.size(), std::bit_cast<std::uintptr_t>(region.host().data()), 0};
    std::memcpy(std::span(m.payload).subspan(sizeof table + i * sizeof wire).data(), &wire, sizeof wire);
    fds.push_back(region.memfd());
  }
  return command(std::move(m), fds);
}

Result<void> Frontend::set_vring_num(std::uint32_t index, std::uint32_t size) {
  return command(make_message(Request::SetVringNum, VringState{index, size}));
}

Result<void> Frontend::set_vring_base(std::uint32_t index, std::uint32_t position) {
  return command(make_message(Request::SetVringBase, VringState{index, position}));
}

Result<void> Frontend::set_vring_addr(const VringAddr& addr) {
  return command(make_message(Request::SetVringAddr, addr));
}

Result<void> Frontend::set_vring_kick(std::uint32_t index, int eventfd) {
  return command(u64_message(Request::SetVringKick, index & kVringIndexMask), std::span(&eventfd, 1));
}

Result<void> Frontend::set_vring_call(std::uint32_t index, int eventfd) {
  return command(u64_message(Request::SetVringCall, index & kVringIndexMask), std::span(&eventfd, 1));
}

Result<void> Frontend::set_vring_enable(std::uint32_t index, bool enable) {
  if ((backend_features_ & kFeatureProtocolFeatures) == 0) {
    return fail(ErrorKind::Unsupported, kOp, "SET_VRING_ENABLE needs VHOST_USER_F_PROTOCOL_FEATURES");
  }
  return command(make_message(Request::SetVringEnable, VringState{index, enable ? 1U : 0U}));
}

Result<std::uint32_t> Frontend::get_vring_base(std::uint32_t index) {
  auto reply = query(make_message(Request::GetVringBase, VringState{index, 0}));
  if (!reply) return tl::unexpected(reply.error());
  auto state = payload_as<VringState>(*reply);
  if (!state) return broken(state.error());
  if (state->index != index) {
    return broken(Error(
        ErrorKind::ProtocolViolation, kOp,
        "GET_VRING_BASE for ring " + std::to_string(index) + " answered for ring " + std::to_string(state->index)));
  }
  return state->num;
}

Result<std::vector<std::uint8_t>> Frontend::get_config(std::uint32_t offset, std::uint32_t size) {
  if (auto r = need(protocol_feature::kConfig, Request::GetConfig); !r) return tl::unexpected(r.error());
  if (size == 0 || size > kMaxConfigSize) return fail(ErrorKind::InvalidArgument, kOp, "GET_CONFIG of 1 to 256 bytes");
  // QEMU sends the header and `size` bytes of room; the backend answers in the same shape.
  Message m;
  m.header = {static_cast<std::uint32_t>(Request::GetConfig), kVersion,
              static_cast<std::uint32_t>(sizeof(ConfigHeader) + size)};
  m.payload.resize(m.header.size);
  const ConfigHeader header{offset, size, 0};
  std::memcpy(m.payload.data(), &header, sizeof header);
  auto reply = query(m);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->payload.size() < sizeof(ConfigHeader))
    return broken(payload_size_error(*reply, sizeof(ConfigHeader) + size));
  ConfigHeader answered;
  std::memcpy(&answered, reply->payload.data(), sizeof answered);
  if (answered.size == 0 && reply->payload.size() == sizeof(ConfigHeader)) {
    return fail(ErrorKind::Unsupported, kOp, "the backend refused GET_CONFIG (it answered size 0)");
  }
  if (answered.offset != offset || answered.size != size) {
    return broken(Error(ErrorKind::ProtocolViolation, kOp,
                        "GET_CONFIG of " + std::to_string(size) + " bytes at " + std::to_string(offset) + " answered " +
                            std::to_string(answered.size) + " bytes at " + std::to_string(answered.offset)));
  }
  if (reply->payload.size() != sizeof(ConfigHeader) + size) {
    return broken(payload_size_error(*reply, sizeof(ConfigHeader) + size));
  }
  return std::vector<std::uint8_t>(reply->payload.begin() + sizeof(ConfigHeader), reply->payload.end());
}

Result<void> Frontend::set_config(std::uint32_t offset, std::span<const std::uint8_t> data) {
  if (auto r = need(protocol_feature::kConfig, Request::SetConfig); !r) return r;
  if (data.empty() || data.size() > kMaxConfigSize)
    return fail(ErrorKind::InvalidArgument, kOp, "SET_CONFIG of 1 to 256 bytes");
  Message m;
  m.header = {static_cast<std::uint32_t>(Request::SetConfig), kVersion,
              static_cast<std::uint32_t>(sizeof(ConfigHeader) + data.size())};
  m.payload.resize(m.header.size);
  const ConfigHeader header{offset, static_cast<std::uint32_t>(data.size()), 0};
  std::memcpy(m.payload.data(), &header, sizeof header);
  std::memcpy(std::span(m.payload).subspan(sizeof header).data(), data.data(), data.size());
  return command(std::move(m));
}

Result<void> Frontend::set_status(std::uint8_t status) {
  if (auto r = need(protocol_feature::kStatus, Request::SetStatus); !r) return r;
  return command(u64_message(Request::SetStatus, status));
}

Result<void> Frontend::reset_device() {
  if (auto r = need(protocol_feature::kResetDevice, Request::ResetDevice); !r) return r;
  return command(make_message(Request::ResetDevice));
}

Result<InflightRegion> Frontend::get_inflight_fd(std::uint16_t num_queues, std::uint16_t queue_size) {
  if (auto r = need(protocol_feature::kInflightShmfd, Request::GetInflightFd); !r) return tl::unexpected(r.error());
  const Inflight asked{0, 0, num_queues, queue_size, {}};
  auto reply = query(make_message(Request::GetInflightFd, asked), 1);
  if (!reply) return tl::unexpected(reply.error());
  auto given = payload_as<Inflight>(*reply);
  if (!given) return broken(given.error());
  constexpr std::uint64_t kPage = 4096;
  if (given->mmap_size == 0 || given->mmap_size > kMaxInflightSize || given->mmap_offset > kMaxInflightSize ||
      given->mmap_offset % kPage != 0) {
    return broken(Error(ErrorKind::ProtocolViolation, kOp,
                        "GET_INFLIGHT_FD answered mmap_size " + std::to_string(given->mmap_size) + " at offset " +
                            std::to_string(given->mmap_offset) + " (expected 1 to " + std::to_string(kMaxInflightSize) +
                            " bytes at a page-aligned offset up to as much)"));
  }
  // The descriptor must be a file that holds the region (a memfd), not a socket, pipe or device the
  // next backend would be handed as its record.
  struct stat st {};
  if (::fstat(reply->fds[0].get(), &st) != 0) return broken(Error::from_errno(kOp, errno, "fstat on the inflight fd"));
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) < given->mmap_offset + given->mmap_size) {
    return broken(Error(ErrorKind::ProtocolViolation, kOp,
                        "GET_INFLIGHT_FD's descriptor is not a file of at least mmap_offset + mmap_size bytes"));
  }
  return InflightRegion{std::move(reply->fds[0]),
                        Inflight{given->mmap_size, given->mmap_offset, num_queues, queue_size, {}}};
}

Result<void> Frontend::set_inflight_fd(const InflightRegion& region) {
  if (auto r = need(protocol_feature::kInflightShmfd, Request::SetInflightFd); !r) return r;
  const int fd = region.fd.get();
  return command(make_message(Request::SetInflightFd, region.description), std::span(&fd, 1));
}

}  // namespace hv::vhost
