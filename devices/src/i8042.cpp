#include "hv/dev/i8042.hpp"

#include <algorithm>
#include <utility>

#include <gsl/gsl>

namespace hv::dev {

namespace {
constexpr std::uint64_t kDataPort = 0, kCommandPort = 4;
constexpr std::uint8_t kStatusOutputFull = 0x01, kStatusCommand = 0x08;
constexpr std::uint8_t kCommandByteKeyboardIrq = 0x01;
}  // namespace

I8042::I8042(std::function<void()> on_reset, std::shared_ptr<InterruptLine> keyboard_irq)
    : on_reset_(std::move(on_reset)), irq_(std::move(keyboard_irq)) {
  Expects(irq_ != nullptr);
}

void I8042::read(std::uint64_t offset, std::span<std::uint8_t> out) {
  std::fill(out.begin(), out.end(), std::uint8_t{0xff});
  if (out.size() != 1) return;
  std::lock_guard lock(mutex_);
  if (offset == kCommandPort) {
    out[0] = static_cast<std::uint8_t>(status_ | (count_ > 0 ? kStatusOutputFull : 0));
  } else if (offset == kDataPort) {
    if (count_ > 0) {
      last_output_ = gsl::at(queue_, static_cast<gsl::index>(head_));
      head_ = (head_ + 1) % kOutputQueue;
      --count_;
    }
    out[0] = last_output_;  // an empty buffer reads its last value, as on hardware
    update_interrupt();
  }
}

void I8042::write(std::uint64_t offset, std::span<const std::uint8_t> in) {
  if (in.size() != 1) return;
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    if (offset == kCommandPort) {
      status_ |= kStatusCommand;
      reset = in[0] == 0xfe;
      if (!reset) command(in[0]);
    } else if (offset == kDataPort) {
      status_ &= static_cast<std::uint8_t>(~kStatusCommand);
      // Writing the output port with bit 0 clear also asserts the CPU reset line.
      reset = pending_ == Pending::OutputPort && (in[0] & 0x01) == 0;
      if (!reset)
        data(in[0]);
      else
        pending_ = Pending::None;
    }
  }
  if (reset && on_reset_) on_reset_();  // outside the lock: the VMM may stop vCPUs from here
}

void I8042::command(std::uint8_t value) {
  switch (value) {
    case 0x20: push(command_byte_); break;              // read controller configuration byte
    case 0x60: pending_ = Pending::CommandByte; break;  // write it (next data byte)
    case 0xa7: command_byte_ |= 0x20; break;            // disable the mouse port
    case 0xa8: command_byte_ &= 0xdf; break;            // enable the mouse port
    case 0xa9: push(0x00); break;                       // mouse port test: passed
    case 0xaa:
      push(0x55);
      status_ |= 0x04;
      break;                                               // controller self test: passed
    case 0xab: push(0x00); break;                          // keyboard port test: passed
    case 0xad: command_byte_ |= 0x10; break;               // disable the keyboard
    case 0xae: command_byte_ &= 0xef; break;               // enable the keyboard
    case 0xd0: push(0x01); break;                          // read output port: reset line inactive
    case 0xd1: pending_ = Pending::OutputPort; break;      // write output port (next data byte)
    case 0xd2: pending_ = Pending::KeyboardOutput; break;  // next data byte appears as keyboard input
    default: break;  // other commands (mouse, pulse lines other than reset) have no effect here
  }
}

void I8042::data(std::uint8_t value) {
  const Pending pending = std::exchange(pending_, Pending::None);
  switch (pending) {
    case Pending::CommandByte:
      command_byte_ = value;
      update_interrupt();
      return;
    case Pending::OutputPort: return;  // bit 0 set: no reset; other lines (A20) are always on
    case Pending::KeyboardOutput: push(value); return;
    case Pending::KeyboardParameter: push(0xfa); return;  // parameter of 0xED / 0xF3: acknowledge
    case Pending::None: break;
  }
  // A command for the keyboard itself.
  switch (value) {
    case 0xff:
      push(0xfa);
      push(0xaa);
      break;  // reset: ACK, self test passed
    case 0xf2:
      push(0xfa);
      push(0xab);
      push(0x83);
      break;                       // identify: MF2 keyboard
    case 0xee: push(0xee); break;  // echo
    case 0xed:
    case 0xf3:
      push(0xfa);
      pending_ = Pending::KeyboardParameter;
      break;                     // LEDs, typematic
    default: push(0xfa); break;  // anything else: ACK
  }
}

void I8042::push(std::uint8_t byte) {
  if (count_ == kOutputQueue) return;  // a guest that never reads loses bytes, never memory
  gsl::at(queue_, static_cast<gsl::index>((head_ + count_) % kOutputQueue)) = byte;
  ++count_;
  update_interrupt();
}

void I8042::update_interrupt() { irq_->set_level(count_ > 0 && (command_byte_ & kCommandByteKeyboardIrq) != 0); }

}  // namespace hv::dev
