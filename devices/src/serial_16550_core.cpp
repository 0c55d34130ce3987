#include "hv/dev/serial_16550_core.hpp"

#include <algorithm>
#include <bit>
#include <utility>

#include <gsl/gsl>

namespace hv::dev {

namespace {
// Register offsets (kData and kLsr are the class's: its inline fast paths use them).
constexpr std::uint64_t kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kMsr = 6, kScr = 7;
// IER bits.
constexpr std::uint8_t kIerRxData = 0x01, kIerThrEmpty = 0x02, kIerLineStatus = 0x04, kIerMask = 0x0f;
// IIR values (priority order: line status > received data > THR empty).
constexpr std::uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRxData = 0x04, kIirThrEmpty = 0x02;
constexpr std::uint8_t kIirFifoEnabled = 0xc0;
// FCR bits.
constexpr std::uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02;
// LCR / LSR / MCR / MSR bits.
constexpr std::uint8_t kLsrOverrun = 0x02;
constexpr std::uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrMask = 0x1f;
constexpr std::uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;
}  // namespace

Serial16550Core::Serial16550Core(std::shared_ptr<ByteSink> output, std::shared_ptr<InterruptLine> irq,
                                 TransmitBuffering buffering)
    : output_(std::move(output)), irq_(std::move(irq)), buffering_(buffering) {
  Expects(output_ != nullptr && irq_ != nullptr);
}

Serial16550Core::~Serial16550Core() { flush_output(); }

std::uint8_t Serial16550Core::read_register(std::uint64_t offset) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kData: return dlab ? divisor_low_ : read_data();
    case kIer: return dlab ? divisor_high_ : ier_;
    case kIir: {
      const std::uint8_t iir = interrupt_identification();
      if (iir == kIirThrEmpty) {
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        thr_interrupt_pending_ = false;
        refresh_transmit_path();
        update_interrupt();
      }
      return static_cast<std::uint8_t>(iir | ((fcr_ & kFcrEnable) != 0 ? kIirFifoEnabled : 0));
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
      // The transmitter hands every byte on at once (to the sink or the transmit buffer), so THR and
      // the shifter are always empty.
      std::uint8_t lsr = kLsrIdle;
      if (rx_count_ > 0) lsr |= kLsrDataReady;
      if (overrun_) {
        lsr |= kLsrOverrun;
        overrun_ = false;  // error bits clear on read
        update_interrupt();
      }
      return lsr;
    }
    case kMsr: return modem_status();
    case kScr: return scr_;
    default: return 0xff;
  }
}

std::uint8_t Serial16550Core::read_data() {
  if (rx_count_ == 0) return 0;
  const std::uint8_t byte = gsl::at(rx_, static_cast<gsl::index>(rx_head_ & kFifoMask));
  rx_head_ = (rx_head_ + 1) & kFifoMask;
  if (--rx_count_ == 0) update_interrupt();  // the received-data condition ends with the last byte
  return byte;
}

void Serial16550Core::write_register(std::uint64_t offset, std::uint8_t value) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kData:
      if (dlab) {
        divisor_low_ = value;
      } else {
        transmit(value);
      }
      break;
    case kIer:
      if (dlab) {
        divisor_high_ = value;
      } else {
        const bool enabling_thr = (ier_ & kIerThrEmpty) == 0 && (value & kIerThrEmpty) != 0;
        ier_ = value & kIerMask;
        if (enabling_thr) thr_interrupt_pending_ = true;  // THR is empty right now
        update_interrupt();
      }
      break;
    case kIir:  // FCR when written
      fcr_ = value;
      if ((value & kFcrClearRx) != 0 && rx_count_ != 0) {
        rx_head_ = rx_count_ = 0;
        update_interrupt();
      }
      break;
    case kLcr: lcr_ = value; break;
    case kMcr: mcr_ = value & kMcrMask; break;
    case kScr: scr_ = value; break;
    default: break;  // LSR and MSR are read-only; offsets past the block are ignored
  }
  refresh_transmit_path();
}

void Serial16550Core::refresh_transmit_path() noexcept {
  buffer_transmits_ = buffering_ == TransmitBuffering::LineBuffered && (lcr_ & kLcrDlab) == 0 &&
                      (mcr_ & kMcrLoop) == 0 && thr_interrupt_pending_;
}

void Serial16550Core::transmit(std::uint8_t byte) {
  if ((mcr_ & kMcrLoop) != 0) {
    if (!push_rx(byte)) overrun_ = true;  // the receiver drops a byte that finds the FIFO full
    thr_interrupt_pending_ = true;
    update_interrupt();
    return;
  }
  if (buffering_ == TransmitBuffering::Unbuffered) {
    output_->write(std::span<const std::uint8_t>(&byte, 1));
  } else {
    if (tx_count_ == tx_.size()) flush_output();  // never true (a full buffer goes out at once): the bound
    gsl::at(tx_, static_cast<gsl::index>(tx_count_)) = TransmitByte{byte};
    ++tx_count_;
    if (byte == kNewline || tx_count_ == tx_.size()) flush_output();
  }
  if (!thr_interrupt_pending_) {
    thr_interrupt_pending_ = true;
    update_interrupt();
  }
}

void Serial16550Core::flush_output() {
  if (tx_count_ == 0) return;
  const std::size_t count = std::exchange(tx_count_, 0);
  // As bytes for the sink: one copy of the buffer per flush (every 256 bytes at most).
  const auto bytes = std::bit_cast<std::array<std::uint8_t, kTransmitBufferSize>>(tx_);
  output_->write(std::span<const std::uint8_t>(bytes).first(count));
}

bool Serial16550Core::push_rx(std::uint8_t byte) {
  if (rx_count_ == kFifoSize) return false;
  gsl::at(rx_, static_cast<gsl::index>((rx_head_ + rx_count_) & kFifoMask)) = byte;
  ++rx_count_;
  return true;
}

std::size_t Serial16550Core::enqueue_input(std::span<const std::uint8_t> bytes) {
  if ((mcr_ & kMcrLoop) != 0) return 0;
  const std::size_t accepted = std::min(bytes.size(), kFifoSize - rx_count_);
  if (accepted == 0) return 0;
  // At most two pieces: up to the end of the array, then from its start.
  const std::size_t tail = (rx_head_ + rx_count_) & kFifoMask;
  const std::size_t first = std::min(accepted, kFifoSize - tail);
  const std::span<std::uint8_t> fifo(rx_);
  std::ranges::copy(bytes.first(first), fifo.subspan(tail).begin());
  std::ranges::copy(bytes.subspan(first, accepted - first), fifo.begin());
  rx_count_ += accepted;
  update_interrupt();
  return accepted;
}

std::uint8_t Serial16550Core::interrupt_identification() const noexcept {
  if ((ier_ & kIerLineStatus) != 0 && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) != 0 && rx_count_ > 0) return kIirRxData;
  if ((ier_ & kIerThrEmpty) != 0 && thr_interrupt_pending_) return kIirThrEmpty;
  return kIirNone;
}

std::uint8_t Serial16550Core::modem_status() const noexcept {
  if ((mcr_ & kMcrLoop) != 0) {
    // Loopback wires the modem-control outputs back to the status inputs (the 8250 driver's probe).
    return static_cast<std::uint8_t>(((mcr_ & kMcrRts) != 0 ? kMsrCts : 0) | ((mcr_ & kMcrDtr) != 0 ? kMsrDsr : 0) |
                                     ((mcr_ & kMcrOut1) != 0 ? kMsrRi : 0) | ((mcr_ & kMcrOut2) != 0 ? kMsrDcd : 0));
  }
  return kMsrDcd | kMsrDsr | kMsrCts;  // a connected, ready line
}

void Serial16550Core::update_interrupt() {
  const bool level = interrupt_identification() != kIirNone;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_->set_level(level);
}

}  // namespace hv::dev
