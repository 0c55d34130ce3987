// 16550A under arbitrary register access sequences, host input and output flushes, unbuffered or
// line-buffered (chosen by the input's length).
#include "device_fuzz_driver.hpp"
#include "hv/dev/serial_16550.hpp"

namespace {
// Traps when the UART gives the line the level it already has: it calls the line on changes only.
class ChangeOnlyLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override {
    if (asserted == level) __builtin_trap();
    level = asserted;
  }
  bool level = false;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto sink = std::make_shared<hv::dev::BufferSink>(4096);
  auto irq = std::make_shared<ChangeOnlyLine>();
  const auto buffering =
      size % 2 == 0 ? hv::dev::TransmitBuffering::Unbuffered : hv::dev::TransmitBuffering::LineBuffered;
  hv::dev::Serial16550 uart(sink, irq, buffering);
  hvfuzz::drive_device(uart, hv::dev::Serial16550::kRegisterCount, in, [&](std::uint8_t op, hvfuzz::FuzzInput& more) {
    if ((op & 0x20) != 0) {
      uart.flush_output();
      if (uart.buffered_output() != 0) __builtin_trap();
      return;
    }
    const auto host = more.bytes(more.take<std::uint8_t>());
    const std::size_t before = uart.input_space();
    const std::size_t accepted = uart.enqueue_input(host);
    if (accepted > host.size() || accepted > before) __builtin_trap();  // never more than offered or room
  });
  if (uart.input_space() > hv::dev::Serial16550::kFifoSize) __builtin_trap();
  if (uart.buffered_output() >= hv::dev::Serial16550Core::kTransmitBufferSize) __builtin_trap();  // full goes out
  return 0;
}
