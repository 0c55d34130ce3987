#pragma once
// Test helpers for devices that work on their own threads (virtio-blk's I/O thread): an interrupt
// line that records its level, and a generous wait for what the device thread publishes.

#include <atomic>
#include <chrono>
#include <thread>

#include "hv/dev/interrupt_line.hpp"

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

}  // namespace hvtest
