// The vhost-user device proxy: a VirtioDevice whose queues a backend process serves (see
// hv/vhost/frontend_device.hpp).
#include "hv/vhost/frontend_device.hpp"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <variant>

#include "hv/virtio/mmio_transport.hpp"
#include "used_ring_watch.hpp"

namespace hv::vhost {
namespace {

constexpr const char* kOp = "vhost-user device";
constexpr std::uint64_t kProxiedRingFeatures =
    virtio::kFeatureIndirectDesc | virtio::kFeatureEventIdx | virtio::kFeatureRingPacked;
constexpr std::uint32_t kVirtioBlockConfigBytes = 60;  // struct virtio_blk_config up to write_zeroes_may_unmap

// `gpa` as an address in this process, inside the region holding it (the memory table's userspace_addr
// space, which SET_VRING_ADDR uses).
Result<std::uint64_t> host_address(const GuestMemory& memory, std::uint64_t gpa) {
  const auto* region = memory.find_region(gpa);
  if (region == nullptr) return fail(ErrorKind::OutOfRange, kOp, "ring at " + hex(gpa) + " is outside guest memory");
  return std::bit_cast<std::uintptr_t>((*region)->host().data()) + (gpa - (*region)->guest_base());
}

Result<VringAddr> vring_addr(const GuestMemory& memory, std::uint16_t index, const virtio::Queue& queue) {
  // Split: descriptors, used, available; packed: the descriptor ring, the device event area (in the
  // used slot) and the driver event area (in the available slot), as QEMU sends them.
  std::uint64_t descriptors = 0, used = 0, available = 0;
  if (const auto* split = std::get_if<virtio::SplitQueue>(&queue.layout())) {
    descriptors = split->config().descriptor_table;
    used = split->config().used_ring;
    available = split->config().available_ring;
  } else {
    const auto& packed = std::get<virtio::PackedQueue>(queue.layout()).config();
    descriptors = packed.descriptor_ring;
    used = packed.device_event;
    available = packed.driver_event;
  }
  auto descriptors_host = host_address(memory, descriptors);
  if (!descriptors_host) return tl::unexpected(descriptors_host.error());
  auto used_host = host_address(memory, used);
  if (!used_host) return tl::unexpected(used_host.error());
  auto available_host = host_address(memory, available);
  if (!available_host) return tl::unexpected(available_host.error());
  return VringAddr{index, 0, *descriptors_host, *used_host, *available_host, 0};
}

std::uint16_t queue_size(const virtio::Queue& queue) {
  if (const auto* split = std::get_if<virtio::SplitQueue>(&queue.layout())) return split->config().size;
  return std::get<virtio::PackedQueue>(queue.layout()).config().size;
}

// SET_VRING_BASE's num: split, the next available index; packed, the index and its wrap counter.
std::uint32_t position(const virtio::Queue& queue) {
  if (const auto* split = std::get_if<virtio::SplitQueue>(&queue.layout())) return split->state().next_avail;
  const auto state = std::get<virtio::PackedQueue>(queue.layout()).state();
  return state.next_avail | (state.avail_wrap ? kPackedWrapBit : 0U);
}

// The queue continued from GET_VRING_BASE's answer. Split: the used index is what the backend
// published in the ring; packed: QEMU 7.2 keeps one position (used = available).
Result<virtio::Queue> restored(const GuestMemory& memory, const virtio::Queue& queue, std::uint32_t num) {
  if (const auto* split = std::get_if<virtio::SplitQueue>(&queue.layout())) {
    if (num > 0xffff) {
      return fail(ErrorKind::ProtocolViolation, kOp,
                  "GET_VRING_BASE answered position " + std::to_string(num) + " for a split ring (at most 65535)");
    }
    auto used = memory.load<std::uint16_t>(split->config().used_ring + 2, std::memory_order_acquire);
    if (!used) return tl::unexpected(used.error());
    auto q = virtio::SplitQueue::restore(memory, split->config(), {static_cast<std::uint16_t>(num), *used});
    if (!q) return tl::unexpected(q.error());
    return virtio::Queue(*q);
  }
  const auto& packed = std::get<virtio::PackedQueue>(queue.layout());
  if (num > 0xffff) {
    return fail(ErrorKind::ProtocolViolation, kOp,
                "GET_VRING_BASE answered position " + std::to_string(num) + " for a packed ring (16 bits)");
  }
  const auto slot = static_cast<std::uint16_t>(num & ~kPackedWrapBit);
  const bool wrap = (num & kPackedWrapBit) != 0;
  auto q = virtio::PackedQueue::restore(memory, packed.config(), {slot, wrap, slot, wrap});
  if (!q) return tl::unexpected(q.error());  // a slot past the ring: InvalidArgument from restore
  return virtio::Queue(*q);
}

}  // namespace

VhostUserDeviceOptions vhost_user_blk_options() {
  VhostUserDeviceOptions o;
  o.device_id = 2;
  o.default_queues = 1;
  o.max_queues = 1;  // the guest sees one request queue (hvkit's drivers do not negotiate VIRTIO_BLK_F_MQ)
  o.config_size = kVirtioBlockConfigBytes;
  return o;
}

VhostUserDeviceOptions vhost_user_rng_options() {
  VhostUserDeviceOptions o;
  o.device_id = 4;
  o.default_queues = 1;
  o.max_queues = 1;
  o.config_size = 0;
  return o;
}

VhostUserDeviceOptions vhost_user_i2c_options() {
  VhostUserDeviceOptions o;
  o.device_id = 34;
  o.default_queues = 1;
  o.max_queues = 1;
  o.config_size = 0;  // virtio 1.2 defines no configuration space for virtio-i2c
  return o;
}

VhostUserDevice::VhostUserDevice(Frontend frontend, VhostUserDeviceOptions options, std::string socket_path)
    : options_(std::move(options)), socket_path_(std::move(socket_path)), frontend_(std::move(frontend)) {}

Result<std::shared_ptr<VhostUserDevice>> VhostUserDevice::create(Frontend frontend, VhostUserDeviceOptions options,
                                                                 std::string socket_path) {
  if (options.device_id == 0 || options.default_queues == 0 || options.max_queues < options.default_queues ||
      options.queue_max_size == 0 || options.queue_max_size > virtio::kMaxQueueSize ||
      options.config_size > kMaxConfigSize ||
      options.config_size > virtio::kMmioWindowSize - 0x100) {  // the config space's room in the window
    return fail(ErrorKind::InvalidArgument, kOp, "options: device ID, queue counts, queue size or config size");
  }
  if ((frontend.backend_features() & virtio::kFeatureVersion1) == 0) {
    return fail(ErrorKind::Unsupported, kOp,
                "the backend does not offer VIRTIO_F_VERSION_1 (legacy devices are not proxied)");
  }
  std::shared_ptr<VhostUserDevice> device(
      new VhostUserDevice(std::move(frontend), std::move(options), std::move(socket_path)));
  const auto& o = device->options_;
  device->backend_features_ = device->frontend_.backend_features();
  device->queue_count_ = o.default_queues;
  if (auto n = device->frontend_.queue_num()) device->queue_count_ = std::min(*n, o.max_queues);
  if (o.config_size > 0) {
    auto config = device->frontend_.get_config(0, o.config_size);
    if (!config) return tl::unexpected(config.error());
    device->config_ = std::move(*config);
  }
  if (o.reconnect_interval.count() > 0) {
    try {
      device->reconnect_thread_ = std::thread(&VhostUserDevice::reconnect_loop, device.get());
    } catch (const std::system_error& e) {
      return fail(ErrorKind::ResourceExhausted, kOp, std::string("cannot start the reconnect thread: ") + e.what());
    }
  }
  return device;
}

Result<std::shared_ptr<VhostUserDevice>> VhostUserDevice::connect(const std::string& socket_path,
                                                                  VhostUserDeviceOptions options,
                                                                  FrontendOptions frontend_options) {
  auto frontend = Frontend::connect(socket_path, frontend_options);
  if (!frontend) return tl::unexpected(frontend.error());
  options.frontend = frontend_options;
  return create(std::move(*frontend), std::move(options), socket_path);
}

VhostUserDevice::~VhostUserDevice() {
  {
    std::lock_guard lock(reconnect_mutex_);
    shutting_down_ = true;
  }
  reconnect_wake_.notify_all();
  // An attempt under way ends within its bounded waits (FrontendOptions::timeout per reply).
  if (reconnect_thread_.joinable()) reconnect_thread_.join();
  stop_call_thread();
}

std::uint64_t VhostUserDevice::features() const noexcept {
  // Device-specific bits only (the transport adds VERSION_1 and the ring features); never bit 30,
  // VHOST_F_LOG_ALL (26) or any other bit of the vhost-user protocol itself. The first backend's
  // offer: what the guest sees does not change with a reconnect.
  return backend_features_ & 0xffffffULL;
}

std::uint64_t VhostUserDevice::ring_features() const noexcept { return backend_features_ & kProxiedRingFeatures; }

bool VhostUserDevice::connected() const {
  std::lock_guard lock(mutex_);
  return frontend_.connected() && !lost_;
}

std::uint64_t VhostUserDevice::reconnects() const {
  std::lock_guard lock(mutex_);
  return reconnects_;
}

void VhostUserDevice::read_config(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (offset >= config_.size()) return;
  const std::size_t n = std::min<std::size_t>(data.size(), config_.size() - offset);
  std::memcpy(data.data(), std::span(config_).subspan(offset).data(), n);
}

void VhostUserDevice::write_config(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  // Only inside the space read at creation: the backend never sees a write it did not describe.
  if (data.empty() || offset >= config_.size() || data.size() > config_.size() - offset) return;
  if (!frontend_.set_config(static_cast<std::uint32_t>(offset), data)) {
    check_lost(memory_ ? &signals_ : nullptr);
    return;  // refused: the driver reads the old value back
  }
  std::memcpy(std::span(config_).subspan(offset).data(), data.data(), data.size());
}

void VhostUserDevice::give_up() {
  {
    std::lock_guard wake(reconnect_mutex_);
    given_up_ = true;
    reconnect_wanted_ = false;
  }
  reconnect_wake_.notify_all();
  std::lock_guard lock(mutex_);
  lost_ = true;  // a connection still up is not used again either: its backend is the one given up on
  if (memory_) signals_.broken();
}

void VhostUserDevice::lost(const Error& error, const virtio::DeviceSignals* signals) {
  if (lost_.exchange(true)) return;
  const bool reconnecting = options_.reconnect_interval.count() > 0 && resumable_ && !given_up_;
  if (options_.on_disconnect) options_.on_disconnect(error, reconnecting);
  if (reconnecting) {
    {
      std::lock_guard lock(reconnect_mutex_);
      reconnect_wanted_ = true;
    }
    reconnect_wake_.notify_all();
    return;  // the guest keeps its device: no needs_reset
  }
  if (signals != nullptr) signals->broken();
}

void VhostUserDevice::check_lost(const virtio::DeviceSignals* signals) {
  if (auto why = frontend_.broken_error()) lost(*why, signals);
}

Result<void> VhostUserDevice::start_vring(Frontend& frontend, const GuestMemory& memory, const Vring& vring,
                                          std::uint32_t base) {
  const std::uint32_t index = vring.index;
  if (auto r = frontend.set_vring_num(index, queue_size(vring.queue)); !r) return r;
  if (auto r = frontend.set_vring_base(index, base); !r) return r;
  auto addr = vring_addr(memory, vring.index, vring.queue);
  if (!addr) return tl::unexpected(addr.error());
  if (auto r = frontend.set_vring_addr(*addr); !r) return r;
  if (auto r = frontend.set_vring_kick(index, vring.kick.fd()); !r) return r;
  return frontend.set_vring_call(index, vring.call.fd());
}

Result<void> VhostUserDevice::start_sequence(Frontend& frontend, const GuestMemory& memory, std::uint64_t features,
                                             std::span<const Vring> vrings, std::span<const std::uint32_t> bases,
                                             std::optional<InflightRegion>& inflight) const {
  if (auto r = frontend.set_features(features); !r) return r;
  if (frontend.has(protocol_feature::kInflightShmfd)) {
    // Asked for once (QEMU: queue_size is the device's maximum, not the ring size the driver chose);
    // handed to every start, so a restarted backend gets the dead one's record.
    if (!inflight) {
      auto region = frontend.get_inflight_fd(queue_count_, options_.queue_max_size);
      if (!region) return tl::unexpected(region.error());
      inflight = std::move(*region);
    }
    if (auto r = frontend.set_inflight_fd(*inflight); !r) return r;
  }
  if (auto r = frontend.set_mem_table(memory); !r) return r;
  for (std::size_t i = 0; i < vrings.size(); ++i) {
    if (auto r = start_vring(frontend, memory, vrings[i], bases[i]); !r) return r;
  }
  // With protocol features the rings start disabled: enable them once all are set up.
  if ((frontend.backend_features() & kFeatureProtocolFeatures) != 0) {
    for (const auto& vring : vrings) {
      if (auto r = frontend.set_vring_enable(vring.index, true); !r) return r;
    }
  }
  if (frontend.has(protocol_feature::kStatus)) {
    constexpr std::uint8_t kLive =
        virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk | virtio::kStatusDriverOk;
    if (auto r = frontend.set_status(kLive); !r) return r;
  }
  return {};
}

Result<void> VhostUserDevice::activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                                       std::vector<std::pair<std::uint16_t, virtio::Queue>> queues,
                                       virtio::DeviceSignals signals) {
  if (memory == nullptr) return fail(ErrorKind::InvalidArgument, kOp, "activate without guest memory");
  // The transport signals needs_reset for the failed activation.
  if (given_up_) return fail(ErrorKind::Unavailable, kOp, "the backend was given up on");
  std::lock_guard lock(mutex_);
  if (!vrings_.empty() || call_thread_.joinable()) {
    std::optional<Error> ignored;  // activated twice without a reset: stop the old rings first
    (void)stop_locked(ignored);
  }
  const std::uint64_t unoffered = features & ~(offered_features());
  if (unoffered != 0) {
    return fail(ErrorKind::InvalidArgument, kOp,
                "activate with feature bits " + hex(unoffered) + " the backend did not offer");
  }
  auto failed = [&](const Error& error) -> Result<void> {
    check_lost(&signals);
    if (frontend_.connected() && options_.on_activation_failed) options_.on_activation_failed(error);
    std::optional<Error> ignored;
    (void)stop_locked(ignored);  // the rings already handed over are stopped again
    return tl::unexpected(error);
  };
  ++generation_;
  std::vector<std::uint32_t> bases;
  bool all_split = true;
  for (auto& [index, queue] : queues) {
    auto kick = EventFd::create();
    if (!kick) return failed(kick.error());
    auto call = EventFd::create();
    if (!call) return failed(call.error());
    bases.push_back(position(queue));
    all_split = all_split && std::holds_alternative<virtio::SplitQueue>(queue.layout());
    vrings_.push_back(Vring{index, queue, std::move(*kick), std::move(*call)});
  }
  resumable_ = all_split;
  if (auto r = start_sequence(frontend_, *memory, features, vrings_, bases, inflight_); !r) return failed(r.error());
  features_ = features;
  memory_ = std::move(memory);
  signals_ = signals;
  if (auto r = start_call_thread(); !r) {
    memory_.reset();
    signals_ = {};
    return failed(r.error());
  }
  return {};
}

Result<void> VhostUserDevice::start_call_thread() {
  // The call thread gets descriptors of its own for the call eventfds and the socket, so nothing it
  // polls can be closed (and its number reused) under it.
  auto stop_event = EventFd::create();
  if (!stop_event) return tl::unexpected(stop_event.error());
  std::vector<std::pair<std::uint16_t, EventFd>> calls;
  std::vector<std::optional<UsedRingWatch>> watches;
  for (const auto& vring : vrings_) {
    auto call = EventFd::duplicate(vring.call.fd());
    if (!call) return tl::unexpected(call.error());
    calls.emplace_back(vring.index, std::move(*call));
    // Each split ring watched from where it stood when it was handed over (a packed ring's used side
    // is its descriptor ring: not watched). Built here, under the lock: the thread never takes it.
    const auto* split = std::get_if<virtio::SplitQueue>(&vring.queue.layout());
    auto& watch = watches.emplace_back();
    if (split != nullptr) watch.emplace(split->config(), split->state().next_used);
  }
  UniqueFd socket(::fcntl(frontend_.socket_fd(), F_DUPFD_CLOEXEC, 0));
  if (!socket) return tl::unexpected(Error::from_errno(kOp, errno, "duplicating the backend socket"));
  stop_event_ = std::move(*stop_event);
  try {
    call_thread_ = std::thread(&VhostUserDevice::watch_calls, this, std::move(calls), stop_event_->fd(),
                               std::move(socket), signals_, memory_, std::move(watches));
  } catch (const std::system_error& e) {
    stop_event_.reset();
    return fail(ErrorKind::ResourceExhausted, kOp, std::string("cannot start the call thread: ") + e.what());
  }
  return {};
}

void VhostUserDevice::reconnect_loop() {
  std::unique_lock lock(reconnect_mutex_);
  for (;;) {
    reconnect_wake_.wait(lock, [&] { return shutting_down_ || reconnect_wanted_ || given_up_; });
    if (shutting_down_ || given_up_) return;
    // Every attempt after an interval (QEMU's chardev waits `reconnect` seconds first too).
    if (reconnect_wake_.wait_for(lock, options_.reconnect_interval, [&] { return shutting_down_ || given_up_; })) {
      return;
    }
    lock.unlock();
    (void)try_reconnect();  // success clears reconnect_wanted_; otherwise the next interval
    lock.lock();
  }
}

bool VhostUserDevice::try_reconnect() {
  auto fresh = Frontend::connect(socket_path_, options_.frontend);
  if (!fresh) return false;
  if ((fresh->backend_features() & virtio::kFeatureVersion1) == 0) return false;
  if (fresh->queue_num() && *fresh->queue_num() < queue_count_) return false;
  // What to restart, copied under the lock; the requests go out without it (a slow backend must not
  // hold up a vCPU's notify or the transport).
  std::uint64_t generation = 0;
  std::shared_ptr<const GuestMemory> memory;
  std::uint64_t features = 0;
  std::vector<Vring> vrings;
  std::optional<InflightRegion> inflight;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
    if (memory_) {
      memory = memory_;
      features = features_;
      for (const auto& vring : vrings_) {
        auto kick = EventFd::duplicate(vring.kick.fd());
        auto call = EventFd::duplicate(vring.call.fd());
        if (!kick || !call) return false;
        vrings.push_back(Vring{vring.index, vring.queue, std::move(*kick), std::move(*call)});
      }
      if (inflight_) {
        UniqueFd fd(::fcntl(inflight_->fd.get(), F_DUPFD_CLOEXEC, 0));
        if (!fd) return false;
        inflight = InflightRegion{std::move(fd), inflight_->description};
      }
    }
  }
  const bool had_inflight = inflight.has_value();
  if (memory) {
    // SET_VRING_BASE = the used index the guest's ring shows (QEMU 7.2 after a crash: GET_VRING_BASE
    // cannot be asked of a dead backend). Requests past it are fetched again, or taken from the
    // in-flight record by a backend that has one.
    std::vector<std::uint32_t> bases;
    for (const auto& vring : vrings) {
      const auto* split = std::get_if<virtio::SplitQueue>(&vring.queue.layout());
      if (split == nullptr) return false;  // not resumable (lost() does not ask for it)
      auto used = memory->load<std::uint16_t>(split->config().used_ring + 2, std::memory_order_acquire);
      if (!used) return false;
      bases.push_back(*used);
    }
    if (!start_sequence(*fresh, *memory, features, vrings, bases, inflight)) return false;
  }
  std::lock_guard lock(mutex_);
  {
    std::lock_guard wake(reconnect_mutex_);
    if (shutting_down_ || given_up_) return false;
  }
  if (generation != generation_) return false;  // reset or activated meanwhile: next time, from that state
  stop_call_thread();                           // the old one ended at the hang-up, or ends now
  frontend_ = std::move(*fresh);
  if (memory && !had_inflight && inflight) inflight_ = std::move(inflight);  // first asked of this backend
  // Cleared before the new call thread starts: a hang-up it sees at once must be reported again.
  {
    std::lock_guard wake(reconnect_mutex_);
    reconnect_wanted_ = false;
  }
  lost_ = false;
  if (memory_) {
    if (auto r = start_call_thread(); !r) {
      lost(r.error(), &signals_);  // the next attempt replaces this connection
      return false;
    }
    // Requests the guest made available while no backend listened: one kick per ring.
    for (const auto& vring : vrings_) (void)vring.kick.signal();
  }
  ++reconnects_;
  if (options_.on_reconnect) options_.on_reconnect();
  return true;
}

std::uint64_t VhostUserDevice::offered_features() const noexcept {
  return features() | ring_features() | virtio::kFeatureVersion1;
}

void VhostUserDevice::watch_calls(std::vector<std::pair<std::uint16_t, EventFd>> own, int stop_fd, UniqueFd socket,
                                  const virtio::DeviceSignals& signals,
                                  const std::shared_ptr<const GuestMemory>& memory,
                                  std::vector<std::optional<UsedRingWatch>> watches) {
  bool broken = false;  // reported once: the driver resets the device (a new activation, a new thread)
  std::vector<pollfd> fds;
  fds.reserve(own.size() + 2);
  for (const auto& [index, event] : own) fds.push_back({event.fd(), POLLIN, 0});
  fds.push_back({stop_fd, POLLIN, 0});
  // Only a hang-up (POLLRDHUP): a backend that writes unasked must not make this thread spin.
  fds.push_back({socket.get(), POLLRDHUP, 0});
  for (;;) {
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      lost(Error::from_errno(kOp, errno, "poll on the call eventfds"), &signals);
      return;
    }
    if (fds[own.size()].revents != 0) return;  // stop_call_thread()
    for (std::size_t i = 0; i < own.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      (void)own[i].second.consume();  // Busy when another reader emptied it: nothing to do then
      if (broken) continue;           // the device needs a reset: nothing more of this backend's is passed on
      if (memory && watches[i]) {
        if (auto ring = watches[i]->check(*memory); !ring) {
          broken = true;
          if (options_.on_ring_broken) options_.on_ring_broken(ring.error());
          signals.broken();
          continue;
        }
      }
      if (signals.used_buffers) signals.used_buffers(own[i].first);
    }
    if (fds.back().revents != 0) {
      lost(Error(ErrorKind::Unavailable, kOp, "the backend closed the connection"), &signals);
      return;
    }
  }
}

void VhostUserDevice::stop_call_thread() {
  if (stop_event_) (void)stop_event_->signal();
  if (call_thread_.joinable()) call_thread_.join();
  stop_event_.reset();
}

void VhostUserDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  for (const auto& vring : vrings_) {
    if (vring.index == index) {
      (void)vring.kick.signal();  // an eventfd write: it fails only at a counter of 2^64 - 2
      return;
    }
  }
}

std::vector<std::pair<std::uint16_t, virtio::Queue>> VhostUserDevice::stop_locked(std::optional<Error>& error) {
  stop_call_thread();
  std::vector<std::pair<std::uint16_t, virtio::Queue>> stopped;
  for (auto& vring : vrings_) {
    auto num = frontend_.get_vring_base(vring.index);
    if (!num) {
      if (!error) error = num.error();
      continue;
    }
    auto queue = memory_ ? restored(*memory_, vring.queue, *num) : Result<virtio::Queue>(vring.queue);
    if (!queue) {
      if (!error) error = queue.error();
      continue;
    }
    stopped.emplace_back(vring.index, *queue);
  }
  check_lost(memory_ ? &signals_ : nullptr);
  vrings_.clear();
  memory_.reset();
  signals_ = {};
  ++generation_;
  resumable_ = true;  // no ring to resume: a reconnect only negotiates
  return stopped;
}

Result<std::vector<std::pair<std::uint16_t, virtio::Queue>>> VhostUserDevice::stop() {
  std::lock_guard lock(mutex_);
  std::optional<Error> error;
  auto queues = stop_locked(error);
  if (error) return tl::unexpected(*error);
  return queues;
}

void VhostUserDevice::reset() {
  std::lock_guard lock(mutex_);
  std::optional<Error> ignored;  // a dead backend: nothing more to stop
  (void)stop_locked(ignored);
  inflight_.reset();  // the driver forgot its requests: a new record for the next start (QEMU does the same)
  if (!frontend_.connected() || lost_) return;  // no backend (a reconnect may be under way): nothing to wait for
  if (frontend_.has(protocol_feature::kStatus)) (void)frontend_.set_status(0);
  if (frontend_.has(protocol_feature::kResetDevice)) (void)frontend_.reset_device();
  check_lost(nullptr);
}

}  // namespace hv::vhost
