#include "hv/virtio/mmio_transport.hpp"

#include <cstring>
#include <utility>

#include <gsl/gsl>

namespace hv::virtio {

namespace {

// Register offsets (§4.2.2).
constexpr std::uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kVendorId = 0x00c, kDeviceFeatures = 0x010,
                        kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024,
                        kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                        kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070,
                        kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueDriverLow = 0x090,
                        kQueueDriverHigh = 0x094, kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4,
                        kQueueReset = 0x0c0, kConfigGeneration = 0x0fc, kConfig = 0x100;
constexpr std::uint32_t kMagicValue = 0x74726976;  // "virt"
constexpr std::uint32_t kVendor = 0x4b564856;      // "HVKV"
constexpr std::uint32_t kInterruptUsedBuffer = 1, kInterruptConfigChange = 2;

void set_low(std::uint64_t& v, std::uint32_t low) { v = (v & 0xffffffff00000000ULL) | low; }
void set_high(std::uint64_t& v, std::uint32_t high) { v = (v & 0xffffffffULL) | (std::uint64_t{high} << 32); }

}  // namespace

MmioTransport::MmioTransport(std::shared_ptr<const GuestMemory> memory, std::shared_ptr<VirtioDevice> device,
                             std::shared_ptr<dev::InterruptLine> interrupt)
    : memory_(std::move(memory)), device_(std::move(device)), interrupt_(std::move(interrupt)) {
  Expects(memory_ != nullptr && device_ != nullptr && interrupt_ != nullptr);
  queues_.resize(device_->queue_count());
}

MmioTransport::~MmioTransport() {
  std::unique_lock control(control_mutex_);
  device_->reset();
}

std::uint64_t MmioTransport::offered_features() const noexcept {
  constexpr std::uint64_t kRingFeatures = kFeatureRingPacked | kFeatureEventIdx | kFeatureIndirectDesc;
  return device_->features() | kFeatureVersion1 | (device_->ring_features() & kRingFeatures);
}

std::uint32_t MmioTransport::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void MmioTransport::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (offset >= kConfig) {
    device_->read_config(offset - kConfig, data);  // the device serializes its own config space
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) return;  // control registers are 32-bit only (§4.2.2.2)
  std::uint32_t value = 0;
  {
    std::lock_guard lock(mutex_);
    value = read_register(offset);
  }
  std::memcpy(data.data(), &value, 4);
}

std::uint32_t MmioTransport::read_register(std::uint64_t offset) {
  const QueueSetup* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  switch (offset) {
    case kMagic: return kMagicValue;
    case kVersion: return 2;
    case kDeviceId: return device_->device_id();
    case kVendorId: return kVendor;
    case kDeviceFeatures:
      return device_features_select_ < 2
                 ? static_cast<std::uint32_t>(offered_features() >> (32 * device_features_select_))
                 : 0;
    case kQueueNumMax: return q != nullptr ? device_->queue_max_size() : 0;  // 0: no such queue
    case kQueueNum: return q != nullptr ? q->size : 0;
    case kQueueReady: return q != nullptr && q->ready ? 1 : 0;
    case kInterruptStatus: return interrupt_status_;
    case kStatus: return status_;
    case kQueueDescLow: return q != nullptr ? static_cast<std::uint32_t>(q->descriptor) : 0;
    case kQueueDescHigh: return q != nullptr ? static_cast<std::uint32_t>(q->descriptor >> 32) : 0;
    case kQueueDriverLow: return q != nullptr ? static_cast<std::uint32_t>(q->driver) : 0;
    case kQueueDriverHigh: return q != nullptr ? static_cast<std::uint32_t>(q->driver >> 32) : 0;
    case kQueueDeviceLow: return q != nullptr ? static_cast<std::uint32_t>(q->device) : 0;
    case kQueueDeviceHigh: return q != nullptr ? static_cast<std::uint32_t>(q->device >> 32) : 0;
    case kConfigGeneration: return config_generation_;
    default: return 0;
  }
}

void MmioTransport::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset >= kConfig) {
    device_->write_config(offset - kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) return;
  std::uint32_t value = 0;
  std::memcpy(&value, data.data(), 4);
  if (offset == kQueueNotify) {
    // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index, nothing else (§4.2.2).
    if (value <= 0xffff) notify(static_cast<std::uint16_t>(value));
    return;
  }
  if (offset == kStatus) {
    write_status(value);
    return;
  }
  std::lock_guard lock(mutex_);
  write_register(offset, value);
}

void MmioTransport::write_register(std::uint64_t offset, std::uint32_t value) {
  // Queue setup happens between FEATURES_OK and DRIVER_OK, on a queue not yet ready (§4.2.3.2).
  QueueSetup* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  const bool setting_up = (status_ & kStatusFeaturesOk) != 0 && (status_ & kStatusDriverOk) == 0;
  const bool queue_writable = q != nullptr && setting_up && !q->ready;
  switch (offset) {
    case kDeviceFeaturesSel: device_features_select_ = value; break;
    case kDriverFeaturesSel: driver_features_select_ = value; break;
    case kDriverFeatures:
      // Only while negotiating: after DRIVER, before FEATURES_OK (§3.1.1).
      if ((status_ & kStatusDriver) != 0 && (status_ & kStatusFeaturesOk) == 0 && driver_features_select_ < 2) {
        if (driver_features_select_ == 0) {
          set_low(driver_features_, value);
        } else {
          set_high(driver_features_, value);
        }
      }
      break;
    case kQueueSel: queue_select_ = value; break;
    case kQueueNum:
      if (queue_writable && value <= device_->queue_max_size()) q->size = static_cast<std::uint16_t>(value);
      break;
    case kQueueDescLow:
      if (queue_writable) set_low(q->descriptor, value);
      break;
    case kQueueDescHigh:
      if (queue_writable) set_high(q->descriptor, value);
      break;
    case kQueueDriverLow:
      if (queue_writable) set_low(q->driver, value);
      break;
    case kQueueDriverHigh:
      if (queue_writable) set_high(q->driver, value);
      break;
    case kQueueDeviceLow:
      if (queue_writable) set_low(q->device, value);
      break;
    case kQueueDeviceHigh:
      if (queue_writable) set_high(q->device, value);
      break;
    case kQueueReady:
      if (q != nullptr && setting_up) {
        // A queue the device could not use reads back as not ready (the driver then fails).
        q->ready = value == 1 && build_queue(*q).has_value();
      }
      break;
    case kQueueReset:
      if (q != nullptr && value == 1 && (status_ & kStatusDriverOk) == 0) *q = QueueSetup{};
      break;
    case kInterruptAck:
      interrupt_status_ &= ~value;
      if (interrupt_status_ == 0) interrupt_->set_level(false);
      break;
    default: break;  // read-only or unknown registers: writes are ignored
  }
}

std::optional<Queue> MmioTransport::build_queue(const QueueSetup& q) const {
  const bool event_idx = (driver_features_ & kFeatureEventIdx) != 0;
  if ((driver_features_ & kFeatureRingPacked) != 0) {
    auto packed = PackedQueue::create(*memory_, {q.size, q.descriptor, q.driver, q.device, event_idx});
    if (!packed) return std::nullopt;
    return Queue(*packed);
  }
  auto split = SplitQueue::create(*memory_, {q.size, q.descriptor, q.driver, q.device, event_idx});
  if (!split) return std::nullopt;
  return Queue(*split);
}

void MmioTransport::write_status(std::uint32_t value) {
  std::unique_lock control(control_mutex_);
  if (value == 0) {
    // The device first (it may be finishing a request), then the registers: Status reads 0 only once
    // the device holds nothing (§2.4).
    device_->reset();
    std::lock_guard lock(mutex_);
    reset_locked();
    return;
  }
  std::vector<std::pair<std::uint16_t, Queue>> activate;
  std::uint64_t features = 0;
  {
    std::lock_guard lock(mutex_);
    // Bits are only ever added, in order (§3.1.1), except FAILED, which the driver may set anytime.
    const std::uint32_t added = value & ~status_;
    const bool keeps_all = (value & status_) == status_;
    const bool ordered = (!(added & kStatusDriver) || (value & kStatusAcknowledge)) &&
                         (!(added & kStatusFeaturesOk) || (value & kStatusDriver)) &&
                         (!(added & kStatusDriverOk) || (value & kStatusFeaturesOk)) &&
                         !(added & kStatusDeviceNeedsReset);
    if (!keeps_all || !ordered) return;  // illegal: ignored, the old status reads back
    if ((added & kStatusFeaturesOk) != 0) {
      // The driver may only accept what was offered, and must accept VERSION_1 (§6.1). Refused, the
      // write cannot also make the device live.
      const bool acceptable =
          (driver_features_ & ~offered_features()) == 0 && (driver_features_ & kFeatureVersion1) != 0;
      if (!acceptable) value &= ~(kStatusFeaturesOk | kStatusDriverOk);
    }
    status_ = value;
    if ((added & kStatusDriverOk) != 0 && (value & kStatusDriverOk) != 0) {
      for (std::size_t i = 0; i < queues_.size(); ++i) {
        if (!queues_[i].ready) continue;
        if (auto q = build_queue(queues_[i])) activate.emplace_back(static_cast<std::uint16_t>(i), *q);
      }
      features = driver_features_;
    }
  }
  if (features == 0) return;
  // Activation runs with notifications excluded: no kick reaches the device before it has its queues.
  DeviceSignals signals{[this](std::uint16_t) { raise(kInterruptUsedBuffer); }, [this] { device_needs_reset(); }};
  if (!device_->activate(memory_, features, std::move(activate), std::move(signals))) device_needs_reset();
}

void MmioTransport::reset_locked() {
  status_ = 0;
  driver_features_ = 0;
  device_features_select_ = driver_features_select_ = queue_select_ = 0;
  interrupt_status_ = 0;
  interrupt_->set_level(false);
  for (auto& q : queues_) q = QueueSetup{};
}

void MmioTransport::notify(std::uint16_t queue) {
  std::shared_lock control(control_mutex_);
  {
    std::lock_guard lock(mutex_);
    if ((status_ & kStatusDriverOk) == 0 || (status_ & kStatusDeviceNeedsReset) != 0) return;
    if (queue >= queues_.size() || !queues_[queue].ready) return;
  }
  device_->notify(queue);  // outside mutex_: the device signals used buffers through raise()
}

void MmioTransport::raise(std::uint32_t bits) {
  std::lock_guard lock(mutex_);
  if ((status_ & kStatusDriverOk) == 0) return;  // a late signal from before a reset
  interrupt_status_ |= bits;
  interrupt_->set_level(true);
}

void MmioTransport::device_needs_reset() {
  {
    std::lock_guard lock(mutex_);
    if ((status_ & kStatusDriverOk) == 0) return;
    status_ |= kStatusDeviceNeedsReset;
  }
  raise(kInterruptConfigChange);
}

void MmioTransport::config_changed() {
  {
    std::lock_guard lock(mutex_);
    ++config_generation_;
  }
  raise(kInterruptConfigChange);
}

}  // namespace hv::virtio
