#include "hv/virtio/console.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <gsl/gsl>

#include "hv/virtio/chain_io.hpp"

namespace hv::virtio {

ConsoleDevice::ConsoleDevice(std::shared_ptr<dev::ByteSink> output) : output_(std::move(output)) {
  Expects(output_ != nullptr);
}

void ConsoleDevice::read_config(std::uint64_t, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0});
}

Result<void> ConsoleDevice::activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t,
                                     std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) {
  std::lock_guard lock(mutex_);
  if (!memory) return fail(ErrorKind::InvalidArgument, "virtio-console activate", "no guest memory");
  for (auto& [index, queue] : queues) {
    if (index == 0) receive_.emplace(queue);
    if (index == 1) transmit_.emplace(queue);
  }
  if (!receive_ || !transmit_) {
    receive_.reset();
    transmit_.reset();
    return fail(ErrorKind::ProtocolViolation, "virtio-console activate",
                "receiveq (0) and transmitq (1) must be ready");
  }
  memory_ = std::move(memory);
  signals_ = std::move(signals);
  broken_ = false;
  return {};
}

void ConsoleDevice::transmit_locked(bool& used) {
  std::array<std::uint8_t, 4096> chunk{};
  auto served = serve_available(*transmit_, *memory_, queue_max_size(), [&](const DescriptorChain& chain) {
    ChainIo io(*memory_, chain);
    const std::uint64_t total = std::min<std::uint64_t>(io.readable(), kMaxOutputPerRequest);
    for (std::uint64_t done = 0; done < total;) {
      const auto piece =
          std::span(chunk).first(static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - done)));
      if (!io.read(done, piece)) break;  // memory changed under the request: send what was readable
      output_->write(piece);
      done += piece.size();
    }
    return std::uint32_t{0};  // nothing written into the guest's buffers
  });
  if (!served) {
    broken_ = true;
    return;
  }
  used = *served;
}

void ConsoleDevice::receive_locked(bool& used) {
  while (!input_.empty()) {
    auto chain = receive_->pop(*memory_);
    if (!chain) {
      broken_ = true;
      return;
    }
    if (!*chain) return;  // no receive buffer: the input waits
    ChainIo io(*memory_, **chain);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(io.writable(), input_.size()));
    std::vector<std::uint8_t> bytes(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    const bool delivered = io.write(0, bytes).has_value();
    if (delivered) input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    if (!receive_->add_used(*memory_, **chain, delivered ? static_cast<std::uint32_t>(n) : 0)) {
      broken_ = true;
      return;
    }
    used = true;
  }
}

void ConsoleDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (!transmit_ || broken_) return;
  bool used_tx = false, used_rx = false;
  if (index == 1) transmit_locked(used_tx);
  if (index == 0 && !broken_) receive_locked(used_rx);
  if (broken_) {
    signals_.broken();  // the driver broke a queue: stop, and say so
    return;
  }
  if (used_tx) signals_.used(1, *transmit_, *memory_);
  if (used_rx) signals_.used(0, *receive_, *memory_);
}

std::size_t ConsoleDevice::enqueue_input(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  const std::size_t taken = std::min(bytes.size(), kInputCapacity - input_.size());
  input_.insert(input_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
  if (receive_ && !broken_) {
    bool used = false;
    receive_locked(used);
    if (broken_) {
      signals_.broken();
      return taken;
    }
    if (used) signals_.used(0, *receive_, *memory_);
  }
  return taken;
}

Result<std::vector<std::pair<std::uint16_t, Queue>>> ConsoleDevice::stop() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  if (receive_) queues.emplace_back(0, *receive_);
  if (transmit_) queues.emplace_back(1, *transmit_);
  receive_.reset();
  transmit_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  return queues;
}

void ConsoleDevice::reset() {
  std::lock_guard lock(mutex_);
  receive_.reset();
  transmit_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  input_.clear();  // in-flight input belongs to the session the reset ended
}

}  // namespace hv::virtio
