#pragma once
// Test helpers for devices that work on their own threads (virtio-blk's I/O thread): an interrupt
// line that records its level, and a generous wait for what the device thread publishes.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "hv/dev/interrupt_line.hpp"
#include "hv/virtio/mmio_transport.hpp"

namespace hvtest {

class RecordingLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override { level = asserted; }
  std::atomic<bool> level{false};
};

// Polls `done` until it holds or `limit` passes; false on time-out.
template <class Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// A driver's 32-bit register access to a virtio-mmio transport (little-endian, as the bus delivers it).
inline std::uint32_t mmio_read32(hv::virtio::MmioTransport& transport, std::uint64_t offset) {
  std::array<std::uint8_t, 4> bytes{};
  transport.read(offset, bytes);
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data(), bytes.size());
  return value;
}
inline void mmio_write32(hv::virtio::MmioTransport& transport, std::uint64_t offset, std::uint32_t value) {
  std::array<std::uint8_t, 4> bytes{};
  std::memcpy(bytes.data(), &value, bytes.size());
  transport.write(offset, bytes);
}

}  // namespace hvtest
