#pragma once
// A 16550A UART as the Linux 8250 driver expects it: divisor latch, IER/IIR with priorities, FCR and
// FIFO detection, LSR, MCR loopback, MSR, scratch register. Output goes to a ByteSink the VMM chooses;
// input is a bounded 64-byte receive FIFO that the VMM fills and the guest drains. The UART shares its
// sink and interrupt line: the VMM may drop its own pointers to them once the UART has them.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "hv/dev/bus_device.hpp"
#include "hv/dev/byte_sink.hpp"
#include "hv/dev/interrupt_line.hpp"

namespace hv::dev {

class Serial16550 final : public BusDevice {
 public:
  static constexpr std::size_t kFifoSize = 64;
  static constexpr std::uint64_t kRegisterCount = 8;  // bus range size

  // Neither may be null (a contract violation terminates).
  Serial16550(std::shared_ptr<ByteSink> output, std::shared_ptr<InterruptLine> irq);

  // Only single-byte accesses reach registers; wider ones read all-ones and are ignored when written.
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Host -> guest. Queues as many bytes as the receive FIFO has room for and returns that count:
  // 0 means the FIFO is full and the caller must keep (or drop) the rest itself. In loopback mode the
  // receiver is disconnected from the line and nothing is accepted.
  std::size_t enqueue_input(std::span<const std::uint8_t> bytes);
  std::size_t input_space() const;

 private:
  std::uint8_t read_register(std::uint64_t offset);
  void write_register(std::uint64_t offset, std::uint8_t value);
  void transmit(std::uint8_t byte);
  std::uint8_t interrupt_identification() const;
  std::uint8_t modem_status() const;
  void update_interrupt();
  bool push_rx(std::uint8_t byte);

  std::shared_ptr<ByteSink> output_;
  std::shared_ptr<InterruptLine> irq_;
  mutable std::mutex mutex_;
  std::uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scr_ = 0, fcr_ = 0;
  std::uint8_t divisor_low_ = 0x0c, divisor_high_ = 0;  // 9600 baud
  bool thr_interrupt_pending_ = false;
  bool overrun_ = false;
  std::array<std::uint8_t, kFifoSize> rx_{};
  std::size_t rx_head_ = 0, rx_count_ = 0;
};

}  // namespace hv::dev
