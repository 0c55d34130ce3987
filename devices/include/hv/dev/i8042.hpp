#pragma once
// The PC keyboard controller, as much as guests use it: status and command ports, the controller
// configuration byte, self tests, keyboard command acknowledgements, and — the reason most VMMs have
// one — the 0xFE "pulse reset line" command, which becomes a reset request for the VMM.
// Registered at 0x60 with size 5: offset 0 is the data port (0x60), offset 4 the status/command port (0x64).

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "hv/dev/bus_device.hpp"
#include "hv/dev/interrupt_line.hpp"

namespace hv::dev {

class I8042 final : public BusDevice {
 public:
  static constexpr std::uint64_t kBase = 0x60;
  static constexpr std::uint64_t kSize = 5;
  static constexpr std::size_t kOutputQueue = 16;  // bytes waiting for the guest, bounded

  // `on_reset` (may be empty) runs on the thread of the guest's write; whatever it captures must stay
  // valid for as long as a guest can reach the device. The line (not null) is shared.
  I8042(std::function<void()> on_reset, std::shared_ptr<InterruptLine> keyboard_irq);
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  enum class Pending : std::uint8_t { None, CommandByte, OutputPort, KeyboardOutput, KeyboardParameter };
  void command(std::uint8_t value);
  void data(std::uint8_t value);
  void push(std::uint8_t byte);
  void update_interrupt();

  std::function<void()> on_reset_;
  std::shared_ptr<InterruptLine> irq_;
  std::mutex mutex_;
  std::uint8_t command_byte_ = 0x45;  // keyboard interrupt on, system flag, scancode translation
  std::uint8_t status_ = 0x14;        // system flag, keyboard not inhibited
  std::uint8_t last_output_ = 0;
  Pending pending_ = Pending::None;
  std::array<std::uint8_t, kOutputQueue> queue_{};
  std::size_t head_ = 0, count_ = 0;
};

}  // namespace hv::dev
