#include "hv/virtio/i2c.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <variant>

#include <gsl/gsl>

#include "hv/virtio/chain_io.hpp"
#include "i2c_request.hpp"

namespace hv::virtio {

namespace {

// The most descriptors one request takes without an indirect table (header, data, status): fewer
// free than this and a driver may be unable to make another request available.
constexpr std::uint64_t kRequestDescriptors = 3;
constexpr std::uint64_t kOutHeaderBytes = 8;

std::uint16_t ring_size(const Queue& queue) {
  return std::visit([](const auto& q) { return q.config().size; }, queue.layout());
}

}  // namespace

struct I2cDevice::Taken {
  DescriptorChain chain;
  detail::I2cRequest request;
  bool ok = false;  // executed, and it (and everything before it in its group) succeeded
};

I2cDevice::I2cDevice(std::shared_ptr<dev::I2cBus> bus)
    : bus_(std::move(bus)), bounce_(dev::kI2cMaxTransactionMessages) {
  Expects(bus_ != nullptr);
  messages_.reserve(dev::kI2cMaxTransactionMessages);
  // Storage from the start, so even a zero-length message's data() is a real pointer: a bus may
  // hand it to memcpy or an ioctl, where a null pointer is undefined even for zero bytes.
  for (auto& data : bounce_) data.reserve(1);
}

I2cDevice::~I2cDevice() = default;

Result<void> I2cDevice::activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                                 std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) {
  std::lock_guard lock(mutex_);
  if (!memory) return fail(ErrorKind::InvalidArgument, "virtio-i2c activate", "no guest memory");
  // Without ZERO_LENGTH_REQUEST a driver would frame requests the 1.2 way we do not serve (§5.19.4).
  if ((features & kI2cFeatureZeroLengthRequest) == 0) {
    return fail(ErrorKind::ProtocolViolation, "virtio-i2c activate",
                "the driver did not accept VIRTIO_I2C_F_ZERO_LENGTH_REQUEST, which the device requires");
  }
  if (queues.size() != 1 || queues.front().first != 0) {
    return fail(ErrorKind::ProtocolViolation, "virtio-i2c activate", "the request queue (0) must be ready");
  }
  memory_ = std::move(memory);
  queue_.emplace(queues.front().second);
  signals_ = std::move(signals);
  broken_ = false;
  // After reset() or stop() nothing is held; chains of a queue this activation replaces are dropped.
  // carry_failed_ survives a stop() and the reactivation that continues the same driver's queue;
  // only reset() clears it.
  group_.clear();
  return {};
}

void I2cDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index != 0 || !queue_ || broken_) return;
  // A broken queue stops the device until reset; what it held is dropped with it.
  if (!take_available()) {
    broken_ = true;
    drop_group();
    signals_.broken();
  }
}

// Takes at most a ring's worth of chains, executing each group once its last request (the first
// without FAIL_NEXT) is taken. A group the driver is still making available stays in group_, unless
// it leaves the driver no room to finish it.
bool I2cDevice::take_available() {
  bool used = false;
  const std::uint16_t limit = ring_size(*queue_);
  for (std::uint32_t n = 0; n < limit; ++n) {
    Taken& taken = group_.emplace_back();
    auto popped = queue_->pop_into(*memory_, taken.chain);
    if (!popped || !*popped) {
      group_.pop_back();
      if (!popped) return false;
      break;
    }
    ChainIo io(*memory_, taken.chain);
    taken.request = detail::parse_i2c_request(io);
    if (!taken.request.fail_next) {
      if (!execute_group()) return false;
      used = true;
    }
  }
  if (!group_.empty() && fills_ring()) {
    if (!execute_group()) return false;
    used = true;
  }
  if (used) signals_.used(0, *queue_, *memory_);
  return true;
}

// Whether the held chains leave fewer descriptors free than a request may need: then the driver
// cannot add the rest of the group (Linux stops adding when the ring is full and leaves FAIL_NEXT
// set on the last request it added), and holding would hang it. A chain's buffers count as
// descriptors even behind an indirect table: an over-estimate, which only executes a group sooner.
bool I2cDevice::fills_ring() const {
  std::uint64_t held = 0;
  for (const Taken& taken : group_) held += std::max<std::uint64_t>(taken.chain.buffers.size(), taken.chain.ring_slots);
  return held + kRequestDescriptors > ring_size(*queue_);
}

// Executes group_ in order, as transactions of consecutive valid requests, then uses every chain in
// the order taken. Once a request fails (malformed, refused by the bus, its data unreachable) the rest
// of the group fails without being executed. A group executed before its end carries its failure to
// its continuation.
bool I2cDevice::execute_group() {
  bool failed = carry_failed_;
  std::size_t next = 0;
  while (next < group_.size()) {
    const Taken& first = group_[next];
    if (failed || first.request.shape != detail::I2cRequestShape::Valid || !bus_->serves(first.request.address)) {
      failed = true;
      ++next;
      continue;
    }
    const std::size_t count = run_transaction(next);
    failed = !group_[next + count - 1].ok;
    next += count;
  }
  carry_failed_ = !group_.back().request.fail_next ? false : failed;
  bool intact = true;
  for (const Taken& taken : group_) {
    if (!use(taken)) {
      intact = false;
      break;
    }
  }
  group_.clear();
  return intact;
}

// One bus transaction from group_[first] (valid, served): the requests after it up to the next that
// is not, at most kI2cMaxTransactionMessages. Each one's data is copied into a device-owned buffer
// first (the bus never sees guest memory, which the driver may change meanwhile), and a read's data
// goes back to the driver only when it succeeded. Returns how many requests it covered (at least one).
std::size_t I2cDevice::run_transaction(std::size_t first) {
  messages_.clear();
  std::size_t count = 0;
  while (first + count < group_.size() && count < dev::kI2cMaxTransactionMessages) {
    Taken& taken = group_[first + count];
    if (taken.request.shape != detail::I2cRequestShape::Valid || !bus_->serves(taken.request.address)) break;
    std::vector<std::uint8_t>& data = bounce_[count];
    data.resize(taken.request.length);  // validated: at most kI2cMaxMessageBytes
    if (!taken.request.read) {
      ChainIo io(*memory_, taken.chain);
      if (!io.read(kOutHeaderBytes, data)) {
        if (count == 0) {  // its data is unreachable: it fails, unexecuted
          taken.ok = false;
          return 1;
        }
        break;  // the transaction ends before it; it fails on its own next
      }
    }
    messages_.push_back(dev::I2cMessage{.address = taken.request.address, .read = taken.request.read, .data = data});
    ++count;
  }
  const std::size_t succeeded = std::min(bus_->transfer(messages_), count);
  bool failed = false;
  for (std::size_t i = 0; i < count; ++i) {
    Taken& taken = group_[first + i];
    bool ok = !failed && i < succeeded;
    if (ok && taken.request.read) {
      ChainIo io(*memory_, taken.chain);
      ok = io.write(0, bounce_[i]).has_value();
    }
    failed = !ok;
    taken.ok = ok;
  }
  return count;
}

// Writes the status (the writable stream's last byte) and returns the chain as used: the read data
// and the status when it succeeded, the status alone otherwise, nothing when there is no status byte.
bool I2cDevice::use(const Taken& taken) {
  std::uint32_t written = 0;
  if (taken.request.shape != detail::I2cRequestShape::NoStatus) {
    ChainIo io(*memory_, taken.chain);
    const std::array<std::uint8_t, 1> status = {taken.ok ? kI2cStatusOk : kI2cStatusError};
    if (io.write(io.writable() - 1, status)) written = (taken.ok && taken.request.read ? taken.request.length : 0) + 1;
  }
  return queue_->add_used(*memory_, taken.chain, written).has_value();
}

void I2cDevice::drop_group() noexcept {
  group_.clear();
  carry_failed_ = false;
}

void I2cDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  drop_group();  // held chains are never used: the reset returns the whole ring to the driver
}

Result<std::vector<std::pair<std::uint16_t, Queue>>> I2cDevice::stop() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  if (queue_ && !broken_ && !group_.empty()) {
    // Nothing taken may stay unused: the held group runs as it stands.
    if (execute_group()) {
      signals_.used(0, *queue_, *memory_);
    } else {
      signals_.broken();
    }
  }
  if (queue_) queues.emplace_back(0, *queue_);
  queue_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  group_.clear();  // executed above, or dropped when the queue broke; carry_failed_ stays for the continuation
  return queues;
}

bool I2cDevice::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

}  // namespace hv::virtio
