// The 16550 UART: transmit (THR writes, with and without an LSR poll before each) and receive (64
// bytes queued by the host, then drained through RBR) over a 4096-byte payload whose byte i is
// ' ' + i % 95. Default register state, a do-nothing interrupt line.
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "hv/dev/serial_16550.hpp"
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

// Discards the output, counting it (the count proves every byte arrived).
class NullSink final : public hv::dev::ByteSink {
 public:
  void write(std::span<const std::uint8_t> bytes) override { count_ += bytes.size(); }
  std::uint64_t count() const { return count_; }

 private:
  std::uint64_t count_ = 0;
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

std::uint8_t in(hv::dev::BusDevice& uart, std::uint64_t offset) {
  std::uint8_t b = 0;
  uart.read(offset, std::span(&b, 1));
  return b;
}
void out(hv::dev::BusDevice& uart, std::uint64_t offset, std::uint8_t value) {
  uart.write(offset, std::span<const std::uint8_t>(&value, 1));
}

template <class Sink>
auto tx_thr(bool poll_lsr) {
  auto sink = std::make_shared<Sink>();
  auto uart = std::make_shared<hv::dev::Serial16550>(sink, std::make_shared<hv::dev::NullInterruptLine>());
  return [sink, uart, bytes = payload(), poll_lsr, expected = std::uint64_t{0}]() mutable {
    hv::dev::BusDevice& device = *uart;
    for (const std::uint8_t b : bytes) {
      if (poll_lsr) {
        while ((in(device, kLsr) & kLsrThrEmpty) == 0) {
        }
      }
      out(device, kData, b);
    }
    expected += kPayload;
    if (sink->count() != expected) std::abort();
  };
}

auto rx(bool poll_lsr) {
  auto uart = std::make_shared<hv::dev::Serial16550>(std::make_shared<NullSink>(),
                                                     std::make_shared<hv::dev::NullInterruptLine>());
  const auto bytes = payload();
  std::vector<std::uint8_t> input(bytes.begin(), bytes.begin() + kRx);
  unsigned expected_sum = 0;
  for (const std::uint8_t b : input) expected_sum += b;
  return [uart, input, expected_sum, poll_lsr] {
    hv::dev::BusDevice& device = *uart;
    if (uart->enqueue_input(input) != kRx) std::abort();
    unsigned sum = 0;
    std::size_t count = 0;
    if (poll_lsr) {
      while ((in(device, kLsr) & kLsrDataReady) != 0) {
        sum += in(device, kData);
        ++count;
      }
    } else {
      for (; count < kRx; ++count) sum += in(device, kData);
    }
    if (count != kRx || sum != expected_sum) std::abort();
  };
}

}  // namespace

void add_uart_shapes() {
  add_shape("uart/tx_thr/null_sink", kPayload, "byte", [] { return tx_thr<NullSink>(false); });
  add_shape("uart/tx_thr/vec_sink", kPayload, "byte", [] { return tx_thr<VecSink>(false); });
  add_shape("uart/tx_lsr_thr/vec_sink", kPayload, "byte", [] { return tx_thr<VecSink>(true); });
  add_shape("uart/rx_rbr", kRx, "byte", [] { return rx(false); });
  add_shape("uart/rx_lsr_rbr", kRx, "byte", [] { return rx(true); });
}

}  // namespace hvbench
