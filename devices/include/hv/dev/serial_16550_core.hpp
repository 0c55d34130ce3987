#pragma once
// The 16550A register model as the Linux 8250 driver expects it — divisor latch, IER/IIR with
// priorities, FCR and FIFO detection, LSR, MCR loopback, MSR, scratch register — WITHOUT a lock.
//
// Contract: the caller serialises every call on one Serial16550Core (all register accesses,
// enqueue_input, input_space, flush_output and destruction), e.g. a VMM that already holds its own
// lock around the device, or runs it on one thread. Concurrent calls are a data race. Everything that
// may be called from several threads (vCPUs, an input thread, a flusher) uses Serial16550
// (hv/dev/serial_16550.hpp), the locked BusDevice over this core.
//
// Output goes to a ByteSink the VMM chooses, byte by byte (Unbuffered) or through a transmit buffer
// (LineBuffered, below); input is a bounded 64-byte receive FIFO that the VMM fills and the guest
// drains. The interrupt line is called only when its level changes. The core shares its sink and
// interrupt line: the VMM may drop its own pointers to them once the core has them.

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "hv/dev/byte_sink.hpp"
#include "hv/dev/interrupt_line.hpp"

namespace hv::dev {

enum class TransmitBuffering : std::uint8_t {
  // Each transmitted byte reaches the sink at once (one sink call per byte).
  Unbuffered,
  // Transmitted bytes collect in a buffer of kTransmitBufferSize bytes that goes to the sink in one
  // call when a newline is written, when it is full, on flush_output() and when the UART is
  // destroyed. A guest that prints a prompt without a newline and then waits for input sees it only
  // after the next flush_output(): whoever chooses LineBuffered must call it while the guest runs
  // (hv::vmm::Machine does so every few milliseconds and when run() ends). The guest cannot tell: THR
  // and the transmitter always read empty either way.
  LineBuffered,
};

class Serial16550Core {
 public:
  static constexpr std::size_t kFifoSize = 64;
  static constexpr std::uint64_t kRegisterCount = 8;  // bus range size
  static constexpr std::size_t kTransmitBufferSize = 256;

  // Neither may be null (a contract violation terminates).
  Serial16550Core(std::shared_ptr<ByteSink> output, std::shared_ptr<InterruptLine> irq,
                  TransmitBuffering buffering = TransmitBuffering::Unbuffered);
  // Hands buffered output to the sink: no byte a guest wrote is lost when the UART goes.
  ~Serial16550Core();
  Serial16550Core(const Serial16550Core&) = delete;
  Serial16550Core& operator=(const Serial16550Core&) = delete;

  // One-byte register accesses at offsets 0-7; other offsets read 0xff and are ignored when written.
  // The guest's hot paths (THR into the transmit buffer, LSR without an error, RBR) are inline; the
  // rest, and everything that calls the sink or the line, is not.
  std::uint8_t read(std::uint64_t offset) {
    if (offset == kLsr && !overrun_) return rx_count_ > 0 ? kLsrIdle | kLsrDataReady : kLsrIdle;
    if (offset == kData && (lcr_ & kLcrDlab) == 0 && rx_count_ > 1) {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): masked into the array.
      const std::uint8_t byte = rx_[rx_head_ & kFifoMask];
      rx_head_ = (rx_head_ + 1) & kFifoMask;
      --rx_count_;  // still > 0: the interrupt condition is unchanged
      return byte;
    }
    return read_register(offset);
  }
  void write(std::uint64_t offset, std::uint8_t value) {
    // A byte that neither fills the buffer nor ends a line only goes into it (and, at this index, the
    // buffer has room: the condition is also the bound).
    if (offset == kData && buffer_transmits_ && tx_count_ < kTransmitBufferSize - 1 && value != kNewline) {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-constant-array-index): tx_count_ < size - 1, checked above.
      tx_[tx_count_++] = TransmitByte{value};
      return;
    }
    write_register(offset, value);
  }

  // Host -> guest. Queues as many bytes as the receive FIFO has room for and returns that count:
  // 0 means the FIFO is full and the caller must keep (or drop) the rest itself. In loopback mode the
  // receiver is disconnected from the line and nothing is accepted.
  std::size_t enqueue_input(std::span<const std::uint8_t> bytes);
  [[nodiscard]] std::size_t input_space() const noexcept { return kFifoSize - rx_count_; }

  // Hands the transmit buffer's bytes (LineBuffered) to the sink now; nothing to do when it is empty.
  void flush_output();
  // Transmitted bytes the sink has not received yet (always 0 when Unbuffered).
  [[nodiscard]] std::size_t buffered_output() const noexcept { return tx_count_; }

 private:
  static constexpr std::uint64_t kData = 0, kLsr = 5;
  static constexpr std::uint8_t kLcrDlab = 0x80, kMcrLoop = 0x10;
  static constexpr std::uint8_t kLsrDataReady = 0x01, kLsrIdle = 0x60;  // THR empty | transmitter empty
  static constexpr std::uint8_t kNewline = '\n';
  static constexpr std::size_t kFifoMask = kFifoSize - 1;
  static_assert((kFifoSize & kFifoMask) == 0, "the receive FIFO wraps with a mask");

  std::uint8_t read_register(std::uint64_t offset);
  void write_register(std::uint64_t offset, std::uint8_t value);
  std::uint8_t read_data();
  void transmit(std::uint8_t byte);
  [[nodiscard]] std::uint8_t interrupt_identification() const noexcept;
  [[nodiscard]] std::uint8_t modem_status() const noexcept;
  // Re-evaluates the interrupt after a change of the state it depends on (IER, the receive FIFO's
  // count, overrun, THR-empty pending) and calls the line only if its level changed.
  void update_interrupt();
  bool push_rx(std::uint8_t byte);
  // Recomputes buffer_transmits_ after a change of LCR, MCR or the THR-empty interrupt.
  void refresh_transmit_path() noexcept;

  std::shared_ptr<ByteSink> output_;
  std::shared_ptr<InterruptLine> irq_;
  TransmitBuffering buffering_;
  bool irq_level_ = false;  // the level the line was last given (a line starts low)
  std::uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scr_ = 0, fcr_ = 0;
  std::uint8_t divisor_low_ = 0x0c, divisor_high_ = 0;  // 9600 baud
  bool thr_interrupt_pending_ = false;
  bool overrun_ = false;
  std::array<std::uint8_t, kFifoSize> rx_{};
  std::size_t rx_head_ = 0, rx_count_ = 0;
  // Not a character type: a store of one may alias any object, which would make the compiler reload
  // tx_count_ and the flags after every buffered byte (a store-to-load round trip per THR write).
  enum class TransmitByte : std::uint8_t {};
  std::array<TransmitByte, kTransmitBufferSize> tx_{};
  std::size_t tx_count_ = 0;
  // A THR write only appends to the buffer: LineBuffered, DLAB off, no loopback, and THR-empty already
  // pending (so the interrupt cannot change). Kept by refresh_transmit_path().
  bool buffer_transmits_ = false;
};

}  // namespace hv::dev
