#include "hv/virtio/rng.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace hv::virtio {

namespace {

// Fills `out` from the kernel's CSPRNG; false if it fails (no partial fills are reported as random).
bool random_bytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<void> RngDevice::activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t,
                                 std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) {
  std::lock_guard lock(mutex_);
  if (!memory) return fail(ErrorKind::InvalidArgument, "virtio-rng activate", "no guest memory");
  if (queues.size() != 1 || queues.front().first != 0) {
    return fail(ErrorKind::ProtocolViolation, "virtio-rng activate", "the request queue (0) must be ready");
  }
  memory_ = std::move(memory);
  queue_.emplace(queues.front().second);
  signals_ = std::move(signals);
  broken_ = false;
  return {};
}

void RngDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index != 0 || !queue_ || broken_) return;
  // A broken queue stops the device until reset.
  if (!serve_and_signal(0, *queue_, *memory_, queue_max_size(), signals_,
                        [this](const DescriptorChain& chain) { return fill(chain); })) {
    broken_ = true;
  }
}

// Fills the chain's device-writable buffers (readable ones are ignored) up to kMaxBytesPerRequest.
std::uint32_t RngDevice::fill(const DescriptorChain& chain) {
  std::array<std::uint8_t, 4096> chunk{};
  std::uint32_t written = 0;
  for (const auto& buffer : chain.buffers) {
    if (!buffer.device_writable) continue;
    std::uint32_t offset = 0;
    while (offset < buffer.length && written < kMaxBytesPerRequest) {
      const std::uint32_t n_bytes =
          std::min({buffer.length - offset, kMaxBytesPerRequest - written, static_cast<std::uint32_t>(chunk.size())});
      const auto piece = std::span(chunk).first(n_bytes);
      // Bounds are checked here, at the time of the write: the driver may have changed memory.
      if (!random_bytes(piece) || !memory_->write(buffer.address + offset, piece)) break;
      offset += n_bytes;
      written += n_bytes;
    }
    if (offset < buffer.length) break;  // a short buffer ends the request: the used length says so
  }
  return written;
}

void RngDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
}

Result<std::vector<std::pair<std::uint16_t, Queue>>> RngDevice::stop() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  if (queue_) queues.emplace_back(0, *queue_);
  queue_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  return queues;
}

bool RngDevice::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

}  // namespace hv::virtio
