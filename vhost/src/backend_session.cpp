#include "hv/vhost/backend_session.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>

#include <gsl/gsl>

#include "backend_ring.hpp"
#include "backend_signals.hpp"
#include "hv/vhost/inflight.hpp"

namespace hv::vhost {
namespace {

using virtio::kFeatureEventIdx;
using virtio::kFeatureIndirectDesc;
using virtio::kFeatureRingPacked;
using virtio::kFeatureVersion1;

// Requests that carry a reply of their own: one the session cannot give ends the connection, since
// the frontend would otherwise wait for it.
bool has_own_reply(std::uint32_t request) {
  switch (static_cast<Request>(request)) {
    case Request::GetFeatures:
    case Request::GetProtocolFeatures:
    case Request::GetVringBase:
    case Request::GetQueueNum:
    case Request::GetConfig:
    case Request::GetInflightFd:
    case Request::GetMaxMemSlots:
    case Request::GetStatus: return true;
    default: return false;
  }
}

// A request without a body and without descriptors.
Result<void> no_body(const Message& m) {
  if (!m.payload.empty()) return tl::unexpected(payload_size_error(m, 0));
  return expect_fds(m, 0, 0);
}

// A reply carrying `bytes` (GET_CONFIG's header and config space).
Message raw_reply(const Message& to, std::span<const std::uint8_t> bytes) {
  Message m;
  m.header = {to.header.request, kVersion | kFlagReply, static_cast<std::uint32_t>(bytes.size())};
  m.payload.assign(bytes.begin(), bytes.end());
  return m;
}

// The bytes each ring occupies (virtio 1.2 §2.7 and §2.8), for the translation of its addresses.
constexpr std::uint64_t kDescriptorBytes = 16;
constexpr std::uint64_t kEventSuppressionBytes = 4;
std::uint64_t split_available_bytes(std::uint16_t n) { return 6 + 2 * std::uint64_t{n}; }
std::uint64_t split_used_bytes(std::uint16_t n) { return 6 + 8 * std::uint64_t{n}; }

}  // namespace

BackendSession::BackendSession(std::shared_ptr<virtio::VirtioDevice> device, Channel channel, Logger log,
                               ThreadStart on_ring_thread)
    : device_(std::move(device)),
      channel_(std::move(channel)),
      log_(std::move(log)),
      on_ring_thread_(std::move(on_ring_thread)) {
  Expects(device_ != nullptr);
  calls_ = std::make_shared<CallTable>(device_->queue_count());
  for (std::uint16_t i = 0; i < device_->queue_count(); ++i) rings_.push_back(std::make_unique<BackendRing>());
}

BackendSession::~BackendSession() {
  for (auto& r : rings_) r->worker.stop();
  device_->reset();  // the next frontend finds the device as new
  active_ = false;
}

std::uint64_t BackendSession::offered_features(const virtio::VirtioDevice& device) noexcept {
  return device.features() | kFeatureVersion1 | kFeatureRingPacked | kFeatureEventIdx | kFeatureIndirectDesc |
         kFeatureProtocolFeatures;
}

std::uint8_t BackendSession::status() const noexcept {
  return static_cast<std::uint8_t>(status_ | (calls_->needs_reset() ? kStatusNeedsReset : 0));
}

void BackendSession::log(const std::string& line) const {
  if (log_) {
    log_(line);
  } else {
    (void)std::fputs(("vhost-user backend: " + line + "\n").c_str(), stderr);
  }
}

Result<void> BackendSession::run() {
  // Whatever ends the session closes the connection at once: a frontend waiting for a reply that
  // will not come learns it from the hang-up, not from a timeout.
  const auto hang_up = gsl::finally([this] { channel_ = Channel(UniqueFd{}); });
  for (;;) {
    auto message = channel_.receive(std::nullopt);
    if (!message) {
      if (message.error().kind() == ErrorKind::Unavailable) return {};  // the frontend went away
      return tl::unexpected(message.error());
    }
    if (auto handled = handle(std::move(*message)); !handled) return handled;
  }
}

Result<void> BackendSession::handle(Message message) {
  const std::uint32_t request = message.request();
  // REPLY_ACK as negotiated before this request (SET_PROTOCOL_FEATURES does not ack itself).
  const bool wants_ack = negotiated(protocol_feature::kReplyAck) && message.needs_reply();
  Outcome outcome = message.is_reply()
                        ? fail(ErrorKind::ProtocolViolation, "vhost-user backend", "a reply where a request belongs")
                        : dispatch(message);
  if (!outcome) {
    log(describe(request) + ": " + outcome.error().to_string());
    if (has_own_reply(request)) return tl::unexpected(outcome.error());
    if (wants_ack) return channel_.send(make_reply(message, std::uint64_t{1}));
    return {};
  }
  if (*outcome) {
    std::vector<int> fds;  // GET_INFLIGHT_FD's reply carries the region's memfd
    for (const auto& fd : (**outcome).fds) fds.push_back(fd.get());
    return channel_.send(**outcome, fds);
  }
  if (wants_ack) return channel_.send(make_reply(message, std::uint64_t{0}));
  return {};
}

BackendSession::Outcome BackendSession::dispatch(Message& m) {
  const auto u64_reply = [&](std::uint64_t value) -> Outcome {
    if (auto r = no_body(m); !r) return tl::unexpected(r.error());
    return std::optional<Message>(make_reply(m, value));
  };
  const auto done = [](Result<void> r) -> Outcome {
    if (!r) return tl::unexpected(r.error());
    return std::nullopt;
  };
  switch (static_cast<Request>(m.request())) {
    case Request::GetFeatures: return u64_reply(offered_features(*device_));
    case Request::SetFeatures: return on_set_features(m);
    case Request::SetOwner: return done(no_body(m));
    case Request::ResetOwner:
    case Request::ResetDevice:
      if (auto r = no_body(m); !r) return tl::unexpected(r.error());
      return on_reset();
    case Request::SetMemTable:
    case Request::AddMemReg:
    case Request::RemMemReg: return on_memory_change(m);
    case Request::GetMaxMemSlots: return u64_reply(kBackendMemSlots);
    case Request::SetVringNum: return on_set_vring_num(m);
    case Request::SetVringAddr: return on_set_vring_addr(m);
    case Request::SetVringBase: return on_set_vring_base(m);
    case Request::GetVringBase: return on_get_vring_base(m);
    case Request::SetVringKick:
    case Request::SetVringCall:
    case Request::SetVringErr: return on_set_vring_fd(m);
    case Request::GetProtocolFeatures: return u64_reply(kBackendProtocolFeatures);
    case Request::SetProtocolFeatures: return on_set_protocol_features(m);
    case Request::GetQueueNum: return u64_reply(device_->queue_count());
    case Request::SetVringEnable: return on_set_vring_enable(m);
    case Request::GetConfig: return on_get_config(m);
    case Request::SetConfig: return on_set_config(m);
    case Request::SetStatus: {
      auto value = payload_as<std::uint64_t>(m);
      if (!value) return tl::unexpected(value.error());
      if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
      status_ = static_cast<std::uint8_t>(*value & ~std::uint64_t{kStatusNeedsReset});
      if (status_ == 0) calls_->clear_needs_reset();  // the driver reset the device
      return std::nullopt;
    }
    case Request::GetStatus: return u64_reply(status());
    case Request::GetInflightFd: return on_get_inflight_fd(m);
    case Request::SetInflightFd: return on_set_inflight_fd(m);
    default:
      return fail(ErrorKind::Unsupported, "vhost-user backend",
                  describe(m.request()) + " is not supported (its protocol feature is not offered)");
  }
}

Result<BackendRing*> BackendSession::ring(std::uint32_t index, const char* operation) {
  if (index >= rings_.size()) {
    return fail(
        ErrorKind::OutOfRange, operation,
        "ring " + std::to_string(index) + " does not exist (the device has " + std::to_string(rings_.size()) + ")");
  }
  return rings_[index].get();
}

BackendSession::Outcome BackendSession::on_set_features(const Message& m) {
  auto value = payload_as<std::uint64_t>(m);
  if (!value) return tl::unexpected(value.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  const std::uint64_t offered = offered_features(*device_);
  if ((*value & ~offered) != 0) {
    return fail(ErrorKind::ProtocolViolation, "SET_FEATURES",
                "features " + hex(*value & ~offered) + " were not offered");
  }
  const bool changed = *value != features_;
  features_ = *value;
  if (changed && active_) {
    if (auto r = restart_device(true); !r) return tl::unexpected(r.error());
  }
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_set_protocol_features(const Message& m) {
  auto value = payload_as<std::uint64_t>(m);
  if (!value) return tl::unexpected(value.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  if ((*value & ~kBackendProtocolFeatures) != 0) {
    return fail(ErrorKind::ProtocolViolation, "SET_PROTOCOL_FEATURES",
                "protocol features " + hex(*value & ~kBackendProtocolFeatures) + " were not offered");
  }
  protocol_features_ = *value;
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_set_vring_num(const Message& m) {
  auto state = payload_as<VringState>(m);
  if (!state) return tl::unexpected(state.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  auto r = ring(state->index, "SET_VRING_NUM");
  if (!r) return tl::unexpected(r.error());
  // The frontend picks the size (QEMU's vhost-user-rng uses 4096): anything the virtio spec allows.
  // Split rings must also be a power of two; SplitQueue::restore checks that when the ring starts.
  if (state->num == 0 || state->num > virtio::kMaxQueueSize) {
    return fail(ErrorKind::InvalidArgument, "SET_VRING_NUM",
                "size " + std::to_string(state->num) + " is outside 1.." + std::to_string(virtio::kMaxQueueSize));
  }
  if ((*r)->worker.running()) return fail(ErrorKind::Busy, "SET_VRING_NUM", "the ring is running");
  (*r)->size = static_cast<std::uint16_t>(state->num);
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_set_vring_addr(const Message& m) {
  auto addr = payload_as<VringAddr>(m);
  if (!addr) return tl::unexpected(addr.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  auto r = ring(addr->index, "SET_VRING_ADDR");
  if (!r) return tl::unexpected(r.error());
  // Dirty logging (flag bit 0, the log address) needs VHOST_F_LOG_ALL, which is not offered.
  (*r)->addresses = *addr;
  if (auto restarted = restart_device((*r)->worker.running()); !restarted) return tl::unexpected(restarted.error());
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_set_vring_base(const Message& m) {
  auto state = payload_as<VringState>(m);
  if (!state) return tl::unexpected(state.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  auto r = ring(state->index, "SET_VRING_BASE");
  if (!r) return tl::unexpected(r.error());
  if ((*r)->worker.running()) return fail(ErrorKind::Busy, "SET_VRING_BASE", "the ring is running");
  // Packed rings: QEMU 7.2 sends the used position (slot and wrap counter) in bits 16..31 beside the
  // available one (0x80008000 for a fresh ring). The device returns every chain it takes before it
  // stops, so the used position equals the available one whenever a ring starts: the high half is
  // not needed (DPDK ignores it too). Split rings: a 16-bit index.
  const bool packed = (features_ & kFeatureRingPacked) != 0;
  if (!packed && state->num > 0xffff) {
    return fail(ErrorKind::InvalidArgument, "SET_VRING_BASE", "position " + hex(state->num) + " exceeds 16 bits");
  }
  (*r)->base = packed ? (state->num & 0xffff) : state->num;
  (*r)->resume.reset();
  (*r)->inflight.reset();  // read the record again when the ring starts
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_get_vring_base(const Message& m) {
  auto state = payload_as<VringState>(m);
  if (!state) return tl::unexpected(state.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  auto r = ring(state->index, "GET_VRING_BASE");
  if (!r) return tl::unexpected(r.error());
  // The ring stops until its next SET_VRING_KICK; the device completes what it took from every ring
  // and goes on with the others.
  (*r)->kick.reset();
  if (auto restarted = restart_device(true); !restarted) log("GET_VRING_BASE: " + restarted.error().to_string());
  return std::optional<Message>(make_reply(m, VringState{state->index, (*r)->position()}));
}

BackendSession::Outcome BackendSession::on_set_vring_fd(Message& m) {
  const auto request = static_cast<Request>(m.request());
  const char* op = request == Request::SetVringKick   ? "SET_VRING_KICK"
                   : request == Request::SetVringCall ? "SET_VRING_CALL"
                                                      : "SET_VRING_ERR";
  auto value = payload_as<std::uint64_t>(m);
  if (!value) return tl::unexpected(value.error());
  if ((*value & ~(kVringIndexMask | kVringNoFd)) != 0) {
    return fail(ErrorKind::ProtocolViolation, op, "reserved bits set in " + hex(*value));
  }
  const bool no_fd = (*value & kVringNoFd) != 0;
  if (auto r = expect_fds(m, no_fd ? 0 : 1, no_fd ? 0 : 1); !r) return tl::unexpected(r.error());
  auto r = ring(static_cast<std::uint32_t>(*value & kVringIndexMask), op);
  if (!r) return tl::unexpected(r.error());
  UniqueFd fd;
  if (!no_fd) {
    if (auto checked = check_eventfd(m.fds[0].get(), op); !checked) return tl::unexpected(checked.error());
    fd = std::move(m.fds[0]);
  }
  const auto index = static_cast<std::size_t>(*value & kVringIndexMask);
  switch (request) {
    case Request::SetVringKick: {
      // A ring without a kick (NOFD: the frontend would have us poll, which this backend does not) is
      // not started.
      const bool was_running = (*r)->worker.running();
      (*r)->kick = std::move(fd);
      if (auto restarted = restart_device(was_running); !restarted) return tl::unexpected(restarted.error());
      return std::nullopt;
    }
    case Request::SetVringCall: calls_->set_call(index, std::move(fd)); return std::nullopt;
    default: calls_->set_err(index, std::move(fd)); return std::nullopt;
  }
}

BackendSession::Outcome BackendSession::on_set_vring_enable(const Message& m) {
  auto state = payload_as<VringState>(m);
  if (!state) return tl::unexpected(state.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  auto r = ring(state->index, "SET_VRING_ENABLE");
  if (!r) return tl::unexpected(r.error());
  if (state->num > 1) {
    return fail(ErrorKind::InvalidArgument, "SET_VRING_ENABLE", "enable must be 0 or 1, not " + hex(state->num));
  }
  (*r)->enabled = state->num == 1;
  if (auto restarted = restart_device(false); !restarted) return tl::unexpected(restarted.error());
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_get_config(const Message& m) {
  if (m.payload.size() < sizeof(ConfigHeader)) return tl::unexpected(payload_size_error(m, sizeof(ConfigHeader)));
  ConfigHeader header;
  std::memcpy(&header, m.payload.data(), sizeof header);
  if (header.size > kMaxConfigSize || m.payload.size() != sizeof(ConfigHeader) + header.size) {
    return tl::unexpected(payload_size_error(m, sizeof(ConfigHeader) + std::min(header.size, kMaxConfigSize)));
  }
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  std::vector<std::uint8_t> reply(sizeof(ConfigHeader) + header.size);
  if (header.offset > kMaxConfigSize - header.size) {
    // Outside the config space: an empty answer, which QEMU reads as a failure.
    log("GET_CONFIG: offset " + hex(header.offset) + " + size " + hex(header.size) + " is outside the config space");
    header.size = 0;
    reply.resize(sizeof(ConfigHeader));
  } else {
    device_->read_config(header.offset, std::span(reply).subspan(sizeof(ConfigHeader)));
  }
  std::memcpy(reply.data(), &header, sizeof header);
  return std::optional<Message>(raw_reply(m, reply));
}

BackendSession::Outcome BackendSession::on_set_config(const Message& m) {
  if (m.payload.size() < sizeof(ConfigHeader)) return tl::unexpected(payload_size_error(m, sizeof(ConfigHeader)));
  ConfigHeader header;
  std::memcpy(&header, m.payload.data(), sizeof header);
  if (header.size > kMaxConfigSize || m.payload.size() != sizeof(ConfigHeader) + header.size) {
    return tl::unexpected(payload_size_error(m, sizeof(ConfigHeader) + std::min(header.size, kMaxConfigSize)));
  }
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  if (header.offset > kMaxConfigSize - header.size) {
    return fail(ErrorKind::OutOfRange, "SET_CONFIG",
                "offset " + hex(header.offset) + " + size " + hex(header.size) + " is outside the config space");
  }
  device_->write_config(header.offset, std::span(m.payload).subspan(sizeof(ConfigHeader)));
  return std::nullopt;
}

namespace {
constexpr std::uint16_t kMaxInflightQueueSize = 32768;  // the largest ring virtio allows
constexpr std::uint64_t kPageBytes = 4096;

Result<void> check_inflight_shape(const Inflight& d, std::size_t rings, const char* op) {
  if (d.num_queues == 0 || d.num_queues > rings) {
    return fail(ErrorKind::InvalidArgument, op,
                std::to_string(d.num_queues) + " queues (the device has " + std::to_string(rings) + ")");
  }
  if (d.queue_size == 0 || d.queue_size > kMaxInflightQueueSize) {
    return fail(
        ErrorKind::InvalidArgument, op,
        "queue size " + std::to_string(d.queue_size) + " is outside 1.." + std::to_string(kMaxInflightQueueSize));
  }
  return {};
}
}  // namespace

BackendSession::Outcome BackendSession::on_get_inflight_fd(const Message& m) {
  auto wanted = payload_as<Inflight>(m);
  if (!wanted) return tl::unexpected(wanted.error());
  if (auto r = expect_fds(m, 0, 0); !r) return tl::unexpected(r.error());
  if (auto r = check_inflight_shape(*wanted, rings_.size(), "GET_INFLIGHT_FD"); !r) return tl::unexpected(r.error());
  auto region = InflightRegion::create(wanted->num_queues, wanted->queue_size);
  if (!region) return tl::unexpected(region.error());
  // The frontend keeps the memfd and hands it to this process and its successors (SET_INFLIGHT_FD).
  UniqueFd fd(::fcntl((*region)->fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd) return fail_errno("GET_INFLIGHT_FD", errno, "dup");
  Message reply = make_reply(m, (*region)->description());
  reply.fds.push_back(std::move(fd));
  return std::optional<Message>(std::move(reply));
}

BackendSession::Outcome BackendSession::on_set_inflight_fd(Message& m) {
  auto d = payload_as<Inflight>(m);
  if (!d) return tl::unexpected(d.error());
  if (auto r = expect_fds(m, 1, 1); !r) return tl::unexpected(r.error());
  if (auto r = check_inflight_shape(*d, rings_.size(), "SET_INFLIGHT_FD"); !r) return tl::unexpected(r.error());
  // Exactly the records' size, rounded up to the page (what GET_INFLIGHT_FD makes): no more, so a
  // frontend cannot have this process map an arbitrary amount of its file.
  const std::uint64_t needed = inflight_queue_bytes(d->queue_size) * d->num_queues;
  const std::uint64_t mapped = (needed + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (d->mmap_size < needed || d->mmap_size > mapped) {
    return fail(ErrorKind::InvalidArgument, "SET_INFLIGHT_FD",
                "mmap_size " + std::to_string(d->mmap_size) + " for " + std::to_string(d->num_queues) + " queues of " +
                    std::to_string(d->queue_size) + " entries (" + std::to_string(needed) + " needed)");
  }
  for (const auto& r : rings_) {
    if (r->worker.running()) return fail(ErrorKind::Busy, "SET_INFLIGHT_FD", "a ring is running");
  }
  auto mapping = GuestRegion::map_shared(0, mapped, std::move(m.fds[0]), d->mmap_offset);
  if (!mapping) return tl::unexpected(mapping.error());
  auto region = InflightRegion::adopt(std::move(*mapping), *d);
  if (!region) return tl::unexpected(region.error());
  inflight_ = std::move(*region);
  for (auto& r : rings_) r->inflight.reset();
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_memory_change(Message& m) {
  Result<void> changed;
  switch (static_cast<Request>(m.request())) {
    case Request::SetMemTable: changed = memory_.set_table(m); break;
    case Request::AddMemReg: changed = memory_.add_region(m); break;
    default: changed = memory_.remove_region(m); break;
  }
  if (!changed) return tl::unexpected(changed.error());
  // The device finishes what it took over the old layout and goes on over the new one, before the
  // frontend hears that the change is done. A ring that cannot start over the new layout (QEMU
  // removes a region before adding its replacement) waits for the next change: not this request's
  // failure.
  if (auto restarted = restart_device(active_); !restarted)
    log(describe(m.request()) + ": " + restarted.error().to_string());
  return std::nullopt;
}

BackendSession::Outcome BackendSession::on_reset() {
  for (auto& r : rings_) r->worker.stop();
  device_->reset();
  active_ = false;
  for (auto& r : rings_) r->reset();
  calls_->clear();
  status_ = 0;
  return std::nullopt;
}

void BackendSession::stop_device() {
  for (auto& r : rings_) r->worker.stop();
  if (!active_) return;
  active_ = false;
  auto queues = device_->stop();
  if (!queues) {
    // The device cannot hand its queues back: reset it, and the rings restart from their bases.
    log("the device cannot stop and resume (" + queues.error().to_string() + "): reset, ring positions lost");
    device_->reset();
    return;
  }
  for (const auto& entry : *queues) {
    const std::uint16_t index = entry.first;  // not a structured binding: clang 14 cannot capture those
    if (index >= rings_.size()) continue;
    std::visit([&](const auto& q) { rings_[index]->resume = RingPosition(q.state()); }, entry.second.layout());
  }
}

Result<void> BackendSession::start_inflight(std::uint16_t index, const GuestMemory& memory, std::uint64_t used_gpa,
                                            virtio::SplitQueueState& state) {
  BackendRing& r = *rings_[index];
  // The used index the guest sees now: what the previous backend published before it died. Like
  // libvhost-user, this and the record's in-flight chains decide where the ring continues, not
  // SET_VRING_BASE (QEMU sends the used index there after a crash).
  auto used = memory.load<std::uint16_t>(used_gpa + 2, std::memory_order_acquire);
  if (!used) return tl::unexpected(used.error());
  auto record = inflight_->queue(index, r.size, *used);
  if (!record) return tl::unexpected(record.error());
  r.inflight = std::move(*record);
  state = virtio::SplitQueueState{r.inflight->next_avail(), *used};
  if (r.inflight->replay_count() != 0) {
    log("ring " + std::to_string(index) + ": " + std::to_string(r.inflight->replay_count()) +
        " requests in flight in the record, processed again");
  }
  return {};
}

Result<void> BackendSession::restart_device(bool force) {
  const bool protocol = (features_ & kFeatureProtocolFeatures) != 0;
  std::vector<std::uint16_t> wanted;
  std::vector<std::uint16_t> running;
  for (std::size_t i = 0; i < rings_.size(); ++i) {  // at most queue_count() (a uint16_t) rings
    if (rings_[i]->startable(protocol)) wanted.push_back(static_cast<std::uint16_t>(i));
    if (rings_[i]->worker.running()) running.push_back(static_cast<std::uint16_t>(i));
  }
  if (!force && wanted == running && (active_ || wanted.empty())) return {};
  stop_device();
  if (wanted.empty()) return {};

  const std::shared_ptr<const GuestMemory> memory = memory_.memory();
  const bool packed = (features_ & kFeatureRingPacked) != 0;
  const bool event_idx = (features_ & kFeatureEventIdx) != 0;
  std::vector<std::pair<std::uint16_t, virtio::Queue>> queues;
  std::string refused;
  for (const std::uint16_t i : wanted) {
    BackendRing& r = *rings_[i];
    const VringAddr& a = *r.addresses;
    const auto gpa = [&](std::uint64_t uva, std::uint64_t len) { return memory_.translate(uva, len); };
    Result<virtio::Queue> queue = fail(ErrorKind::Internal, "", "");
    if (packed) {
      auto desc = gpa(a.descriptor, kDescriptorBytes * r.size);
      auto driver = gpa(a.available, kEventSuppressionBytes);
      auto device = gpa(a.used, kEventSuppressionBytes);
      if (inflight_ && !r.resume) log("ring " + std::to_string(i) + ": packed, in-flight requests are not recorded");
      if (!desc || !driver || !device) {
        queue = tl::unexpected(!desc ? desc.error() : !driver ? driver.error() : device.error());
      } else {
        const virtio::PackedQueueConfig config{r.size, *desc, *driver, *device, event_idx};
        const auto* saved = r.resume ? std::get_if<virtio::PackedQueueState>(&*r.resume) : nullptr;
        const bool wrap = (r.base & kPackedWrapBit) != 0;
        const auto slot = static_cast<std::uint16_t>(r.base & ~kPackedWrapBit);
        const virtio::PackedQueueState state = saved ? *saved : virtio::PackedQueueState{slot, wrap, slot, wrap};
        queue = virtio::PackedQueue::restore(*memory, config, state).map([](auto q) { return virtio::Queue(q); });
      }
    } else {
      auto desc = gpa(a.descriptor, kDescriptorBytes * r.size);
      auto avail = gpa(a.available, split_available_bytes(r.size));
      auto used = gpa(a.used, split_used_bytes(r.size));
      if (!desc || !avail || !used) {
        queue = tl::unexpected(!desc ? desc.error() : !avail ? avail.error() : used.error());
      } else {
        const virtio::SplitQueueConfig config{r.size, *desc, *avail, *used, event_idx};
        const auto* saved = r.resume ? std::get_if<virtio::SplitQueueState>(&*r.resume) : nullptr;
        const auto index = static_cast<std::uint16_t>(r.base);
        virtio::SplitQueueState state = saved ? *saved : virtio::SplitQueueState{index, index};
        Result<void> logged = {};
        if (inflight_ && !saved) logged = start_inflight(i, *memory, *used, state);
        if (!logged) {
          queue = tl::unexpected(logged.error());
        } else {
          queue = virtio::SplitQueue::restore(*memory, config, state).map([](auto q) { return virtio::Queue(q); });
          if (queue && r.inflight) {
            if (auto tracked = queue->track_inflight(r.inflight); !tracked) queue = tl::unexpected(tracked.error());
          }
        }
      }
    }
    if (!queue) {
      refused += (refused.empty() ? "" : "; ") + ("ring " + std::to_string(i) + ": " + queue.error().to_string());
      continue;
    }
    queues.emplace_back(i, *queue);
  }
  if (queues.empty()) return fail(ErrorKind::InvalidArgument, "vhost-user ring start", refused);

  virtio::DeviceSignals signals;
  signals.used_buffers = [calls = calls_](std::uint16_t index) { calls->used(index); };
  signals.needs_reset = [calls = calls_] { calls->broken(); };
  std::vector<std::uint16_t> started;
  started.reserve(queues.size());
  for (const auto& q : queues) started.push_back(q.first);
  if (auto activated = device_->activate(memory, features_ & ~kFeatureProtocolFeatures, std::move(queues), signals);
      !activated) {
    // A device may need more rings than have started (a console's two): it waits for them.
    log("the device does not start yet: " + activated.error().to_string());
  } else {
    active_ = true;
    for (const std::uint16_t i : started) {
      auto worker = rings_[i]->worker.start(
          rings_[i]->kick.get(), [device = device_, i] { device->notify(i); }, on_ring_thread_);
      if (!worker) return tl::unexpected(worker.error());
      device_->notify(i);  // what the driver made available before the ring (re)started
    }
  }
  if (!refused.empty()) return fail(ErrorKind::InvalidArgument, "vhost-user ring start", refused);
  return {};
}

}  // namespace hv::vhost
