#pragma once
// An IoHandler for tests, fuzzers and benchmarks: records every device access a vCPU's run() hands
// it, answers reads through an optional callback (all-ones otherwise), and can kick the vCPU after
// each access so that run() returns once the instruction that made it is complete.

#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

#include "hv/hypervisor.hpp"
#include "hv/io_handler.hpp"

namespace hv::testing {

enum class Space : std::uint8_t { Pio, Mmio };

struct Access {
  Space space = Space::Pio;
  std::uint64_t address = 0;  // port or guest-physical address
  AccessDirection direction = AccessDirection::Read;
  std::vector<std::uint8_t> data;  // bytes written, or what the guest read
  [[nodiscard]] std::uint64_t value() const {
    std::uint64_t v = 0;
    std::memcpy(&v, data.data(), std::min(data.size(), sizeof v));
    return v;
  }
  [[nodiscard]] bool is(Space s, std::uint64_t a, AccessDirection d) const {
    return space == s && address == a && direction == d;
  }
};

class RecordingIo final : public IoHandler {
 public:
  // Fills a read's bytes (they arrive as 0xff); leave them for an unclaimed access.
  using Reader = std::function<void(Space space, std::uint64_t address, std::span<std::uint8_t> data)>;

  RecordingIo() = default;
  explicit RecordingIo(Reader reader) : reader_(std::move(reader)) {}

  void answer_reads_with(Reader reader) { reader_ = std::move(reader); }
  // After each access, kick `vcpu`: its run() then returns InterruptedExit once the instruction is
  // complete, one instruction at a time. nullptr stops that.
  void kick_after_each_access(Vcpu* vcpu) noexcept { kick_ = vcpu; }

  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override { read(Space::Pio, port, data); }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    record(Space::Pio, port, AccessDirection::Write, data);
  }
  void mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept override {
    read(Space::Mmio, address, data);
  }
  void mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept override {
    record(Space::Mmio, address, AccessDirection::Write, data);
  }

  std::vector<Access> accesses;

 private:
  void read(Space space, std::uint64_t address, std::span<std::uint8_t> data) {
    if (reader_) reader_(space, address, data);
    record(space, address, AccessDirection::Read, data);
  }
  void record(Space space, std::uint64_t address, AccessDirection direction, std::span<const std::uint8_t> data) {
    accesses.push_back({space, address, direction, {data.begin(), data.end()}});
    if (kick_ != nullptr) kick_->kick();
  }
  Reader reader_;
  Vcpu* kick_ = nullptr;
};

}  // namespace hv::testing
