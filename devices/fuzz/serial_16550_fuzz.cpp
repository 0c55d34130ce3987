// 16550A under arbitrary register access sequences and host input.
#include "device_fuzz_driver.hpp"
#include "hv/dev/serial_16550.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto sink = std::make_shared<hv::dev::BufferSink>(4096);
  auto irq = std::make_shared<hvfuzz::CountingLine>();
  hv::dev::Serial16550 uart(sink, irq);
  hvfuzz::drive_device(uart, hv::dev::Serial16550::kRegisterCount, in, [&](std::uint8_t, hvfuzz::FuzzInput& more) {
    const auto host = more.bytes(more.take<std::uint8_t>());
    const std::size_t before = uart.input_space();
    const std::size_t accepted = uart.enqueue_input(host);
    if (accepted > host.size() || accepted > before) __builtin_trap();  // never more than offered or room
  });
  if (uart.input_space() > hv::dev::Serial16550::kFifoSize) __builtin_trap();
  return 0;
}
