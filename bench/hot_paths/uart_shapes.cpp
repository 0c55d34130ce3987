// The 16550 UART: transmit (THR writes, with and without an LSR poll before each) and receive (64
// bytes queued by the host, then drained through RBR) over a 4096-byte payload whose byte i is
// ' ' + i % 95. Default register state, a do-nothing interrupt line.
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hv/dev/serial_16550.hpp"
#include "hv/dev/serial_16550_core.hpp"
#include "shape_registry.hpp"

namespace hvbench {

namespace {

constexpr std::size_t kPayload = 4096;
constexpr std::size_t kRx = 64;
constexpr std::uint64_t kData = 0, kLsr = 5;
constexpr std::uint8_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20;

std::vector<std::uint8_t> payload() {
  std::vector<std::uint8_t> bytes(kPayload);
  for (std::size_t i = 0; i < kPayload; ++i) bytes[i] = static_cast<std::uint8_t>(' ' + i % 95);
  return bytes;
}

// Discards the output, keeping its count and last byte (which prove every byte arrived).
class NullSink final : public hv::dev::ByteSink {
 public:
  void write(std::span<const std::uint8_t> bytes) override {
    if (bytes.empty()) return;
    count_ += bytes.size();
    last_ = bytes.back();
  }
  std::uint64_t count() const { return count_; }
  std::uint8_t last() const { return last_; }

 private:
  std::uint64_t count_ = 0;
  std::uint8_t last_ = 0;
};

// Keeps at most kPayload bytes: cleared (capacity kept) when the next write would exceed that.
class VecSink final : public hv::dev::ByteSink {
 public:
  VecSink() { bytes_.reserve(kPayload); }
  void write(std::span<const std::uint8_t> bytes) override {
    if (bytes_.size() + bytes.size() > kPayload) {
      count_ += bytes_.size();
      bytes_.clear();
    }
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  }
  std::uint64_t count() const { return count_ + bytes_.size(); }
  std::uint8_t last() const { return bytes_.empty() ? 0 : bytes_.back(); }

 private:
  std::vector<std::uint8_t> bytes_;
  std::uint64_t count_ = 0;
};

// The two ways to reach the UART: the unlocked core called directly, as by a VMM that serialises its
// calls itself, and the locked BusDevice a DeviceManager's bus calls (1-byte spans, virtual calls).
struct Core {
  using Uart = hv::dev::Serial16550Core;
  static std::uint8_t in(Uart& uart, std::uint64_t offset) { return uart.read(offset); }
  static void out(Uart& uart, std::uint64_t offset, std::uint8_t value) { uart.write(offset, value); }
};
struct Locked {  // through the bus (DeviceManager's path): a virtual call with a 1-byte span
  using Uart = hv::dev::Serial16550;
  static std::uint8_t in(Uart& uart, std::uint64_t offset) {
    std::uint8_t b = 0;
    static_cast<hv::dev::BusDevice&>(uart).read(offset, std::span(&b, 1));
    return b;
  }
  static void out(Uart& uart, std::uint64_t offset, std::uint8_t value) {
    static_cast<hv::dev::BusDevice&>(uart).write(offset, std::span<const std::uint8_t>(&value, 1));
  }
};

struct LockedDirect {  // the lock and the register, no bus: as the peer's Mutex<Serial> rows
  using Uart = hv::dev::Serial16550;
  static std::uint8_t in(Uart& uart, std::uint64_t offset) { return uart.read_register(offset); }
  static void out(Uart& uart, std::uint64_t offset, std::uint8_t value) { uart.write_register(offset, value); }
};

// Line-buffered as hv::vmm::Machine runs it; flushed after each payload (a VMM flushes every few
// milliseconds), so that the sink's count proves every byte arrived.
template <class Access, class Sink>
auto tx_thr(bool poll_lsr) {
  auto sink = std::make_shared<Sink>();
  auto uart = std::make_shared<typename Access::Uart>(sink, std::make_shared<hv::dev::NullInterruptLine>(),
                                                      hv::dev::TransmitBuffering::LineBuffered);
  return [sink, uart, bytes = payload(), poll_lsr, expected = std::uint64_t{0}]() mutable {
    for (const std::uint8_t b : bytes) {
      if (poll_lsr) {
        while ((Access::in(*uart, kLsr) & kLsrThrEmpty) == 0) {
        }
      }
      Access::out(*uart, kData, b);
    }
    uart->flush_output();
    expected += kPayload;
    if (sink->count() != expected || sink->last() != bytes.back()) std::abort();
  };
}

template <class Access>
auto rx(bool poll_lsr) {
  auto uart = std::make_shared<typename Access::Uart>(std::make_shared<NullSink>(),
                                                      std::make_shared<hv::dev::NullInterruptLine>());
  const auto bytes = payload();
  std::vector<std::uint8_t> input(bytes.begin(), bytes.begin() + kRx);
  unsigned expected_sum = 0;
  for (const std::uint8_t b : input) expected_sum += b;
  return [uart, input, expected_sum, poll_lsr] {
    if (uart->enqueue_input(input) != kRx) std::abort();
    unsigned sum = 0;
    std::size_t count = 0;
    if (poll_lsr) {
      while ((Access::in(*uart, kLsr) & kLsrDataReady) != 0) {
        sum += Access::in(*uart, kData);
        ++count;
      }
    } else {
      for (; count < kRx; ++count) sum += Access::in(*uart, kData);
    }
    if (count != kRx || sum != expected_sum) std::abort();
  };
}

template <class Access>
void add(const std::string& suffix) {
  add_shape("uart/tx_thr/null_sink" + suffix, kPayload, "byte", [] { return tx_thr<Access, NullSink>(false); });
  add_shape("uart/tx_thr/vec_sink" + suffix, kPayload, "byte", [] { return tx_thr<Access, VecSink>(false); });
  add_shape("uart/tx_lsr_thr/vec_sink" + suffix, kPayload, "byte", [] { return tx_thr<Access, VecSink>(true); });
  add_shape("uart/rx_rbr" + suffix, kRx, "byte", [] { return rx<Access>(false); });
  add_shape("uart/rx_lsr_rbr" + suffix, kRx, "byte", [] { return rx<Access>(true); });
}

}  // namespace

// Each shape on the unlocked core; then ("/locked") through the locked UART's register calls, which
// pair with the peer's Mutex-wrapped Serial (a lock and a direct call); and ("/locked/bus") through
// its BusDevice interface, as a DeviceManager reaches it (no peer row: rust-vmm's vm-superio has no bus).
void add_uart_shapes() {
  add<Core>("");
  add<LockedDirect>("/locked");
  add<Locked>("/locked/bus");
}

}  // namespace hvbench
