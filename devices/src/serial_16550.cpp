#include "hv/dev/serial_16550.hpp"

#include <utility>

#include <gsl/gsl>

namespace hv::dev {

namespace {
// Register offsets.
constexpr std::uint64_t kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
// IER bits.
constexpr std::uint8_t kIerRxData = 0x01, kIerThrEmpty = 0x02, kIerLineStatus = 0x04, kIerMask = 0x0f;
// IIR values (priority order: line status > received data > THR empty).
constexpr std::uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRxData = 0x04, kIirThrEmpty = 0x02;
constexpr std::uint8_t kIirFifoEnabled = 0xc0;
// FCR bits.
constexpr std::uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02;
// LCR / LSR / MCR / MSR bits.
constexpr std::uint8_t kLcrDlab = 0x80;
constexpr std::uint8_t kLsrDataReady = 0x01, kLsrOverrun = 0x02, kLsrThrEmpty = 0x20, kLsrTransmitterEmpty = 0x40;
constexpr std::uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10,
                       kMcrMask = 0x1f;
constexpr std::uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;
}  // namespace

Serial16550::Serial16550(std::shared_ptr<ByteSink> output, std::shared_ptr<InterruptLine> irq)
    : output_(std::move(output)), irq_(std::move(irq)) {
  Expects(output_ != nullptr && irq_ != nullptr);
}

void Serial16550::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (data.size() != 1 || offset >= kRegisterCount) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    return;
  }
  std::lock_guard lock(mutex_);
  data[0] = read_register(offset);
}

void Serial16550::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (data.size() != 1 || offset >= kRegisterCount) return;
  std::lock_guard lock(mutex_);
  write_register(offset, data[0]);
}

std::uint8_t Serial16550::read_register(std::uint64_t offset) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kData: {
      if (dlab) return divisor_low_;
      std::uint8_t byte = 0;
      if (rx_count_ > 0) {
        byte = gsl::at(rx_, static_cast<gsl::index>(rx_head_));
        rx_head_ = (rx_head_ + 1) % kFifoSize;
        --rx_count_;
      }
      update_interrupt();
      return byte;
    }
    case kIer: return dlab ? divisor_high_ : ier_;
    case kIir: {
      const std::uint8_t iir = interrupt_identification();
      // Reading IIR while it reports THR empty acknowledges that interrupt.
      if (iir == kIirThrEmpty) thr_interrupt_pending_ = false;
      update_interrupt();
      return static_cast<std::uint8_t>(iir | ((fcr_ & kFcrEnable) != 0 ? kIirFifoEnabled : 0));
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
      // The transmitter hands every byte to the sink at once, so THR and the shifter are always empty.
      std::uint8_t lsr = kLsrThrEmpty | kLsrTransmitterEmpty;
      if (rx_count_ > 0) lsr |= kLsrDataReady;
      if (overrun_) lsr |= kLsrOverrun;
      overrun_ = false;  // error bits clear on read
      update_interrupt();
      return lsr;
    }
    case kMsr: return modem_status();
    case kScr: return scr_;
    default: return 0xff;
  }
}

void Serial16550::write_register(std::uint64_t offset, std::uint8_t value) {
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
      }
      break;
    case kIir:  // FCR when written
      fcr_ = value;
      if ((value & kFcrClearRx) != 0) rx_head_ = rx_count_ = 0;
      break;
    case kLcr: lcr_ = value; break;
    case kMcr: mcr_ = value & kMcrMask; break;
    case kScr: scr_ = value; break;
    default: break;  // LSR and MSR are read-only
  }
  update_interrupt();
}

void Serial16550::transmit(std::uint8_t byte) {
  if ((mcr_ & kMcrLoop) != 0) {
    if (!push_rx(byte)) overrun_ = true;  // the receiver drops a byte that finds the FIFO full
  } else {
    output_->write(std::span<const std::uint8_t>(&byte, 1));
  }
  thr_interrupt_pending_ = true;
}

bool Serial16550::push_rx(std::uint8_t byte) {
  if (rx_count_ == kFifoSize) return false;
  gsl::at(rx_, static_cast<gsl::index>((rx_head_ + rx_count_) % kFifoSize)) = byte;
  ++rx_count_;
  return true;
}

std::size_t Serial16550::enqueue_input(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  if ((mcr_ & kMcrLoop) != 0) return 0;
  std::size_t accepted = 0;
  while (accepted < bytes.size() && push_rx(bytes[accepted])) ++accepted;
  if (accepted > 0) update_interrupt();
  return accepted;
}

std::size_t Serial16550::input_space() const {
  std::lock_guard lock(mutex_);
  return kFifoSize - rx_count_;
}

std::uint8_t Serial16550::interrupt_identification() const {
  if ((ier_ & kIerLineStatus) != 0 && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) != 0 && rx_count_ > 0) return kIirRxData;
  if ((ier_ & kIerThrEmpty) != 0 && thr_interrupt_pending_) return kIirThrEmpty;
  return kIirNone;
}

std::uint8_t Serial16550::modem_status() const {
  if ((mcr_ & kMcrLoop) != 0) {
    // Loopback wires the modem-control outputs back to the status inputs (the 8250 driver's probe).
    return static_cast<std::uint8_t>(((mcr_ & kMcrRts) != 0 ? kMsrCts : 0) | ((mcr_ & kMcrDtr) != 0 ? kMsrDsr : 0) |
                                     ((mcr_ & kMcrOut1) != 0 ? kMsrRi : 0) | ((mcr_ & kMcrOut2) != 0 ? kMsrDcd : 0));
  }
  return kMsrDcd | kMsrDsr | kMsrCts;  // a connected, ready line
}

void Serial16550::update_interrupt() { irq_->set_level(interrupt_identification() != kIirNone); }

}  // namespace hv::dev
