#pragma once
// An I2C adapter as the virtio-i2c device (hv/virtio/i2c.hpp) drives it: messages to 7-bit target
// addresses, executed in order as one transaction where the adapter can (START, a repeated START
// between messages, one STOP). Implementations: a host bus /dev/i2c-N (hv/dev/host_i2c_bus.hpp), a
// simulated 24C02-style EEPROM (hv/dev/i2c_eeprom.hpp), and the address map that puts several of them
// behind one adapter (hv/dev/i2c_address_map.hpp).
//
// Callers validate what a guest sent before it gets here (address range, lengths): a bus is given
// well-formed messages only. A bus never throws and never blocks without bound; it may be called from
// any thread and serialises its own state.

#include <cstddef>
#include <cstdint>
#include <span>

namespace hv::dev {

// The highest 7-bit target address a message may carry: 0x78..0x7f are reserved by the I2C
// specification (10-bit addressing prefixes and future use).
inline constexpr std::uint8_t kI2cMaxAddress = 0x77;
// The most data bytes in one message (Linux's i2c-dev refuses longer ones: 8192).
inline constexpr std::size_t kI2cMaxMessageBytes = 8192;
// The most messages in one transaction (Linux's I2C_RDWR_IOCTL_MAX_MSGS).
inline constexpr std::size_t kI2cMaxTransactionMessages = 42;

struct I2cMessage {
  std::uint8_t address = 0;      // 7-bit, at most kI2cMaxAddress
  bool read = false;             // true: the target fills `data`; false: `data` is written to it
  std::span<std::uint8_t> data;  // at most kI2cMaxMessageBytes; empty is a zero-length message (a probe)
};

class I2cBus {
 public:
  virtual ~I2cBus() = default;
  // Whether the bus serves `address` (a listed client of a host bus, a simulated device). A message to
  // an address the bus does not serve fails without touching any hardware.
  [[nodiscard]] virtual bool serves(std::uint8_t address) const = 0;
  // Executes `messages` (at most kI2cMaxTransactionMessages) in order, as one transaction where the
  // bus can, and returns how many of them, from the first, succeeded: messages.size() when all did.
  // After the first failure nothing more is executed. A read's data is only meaningful when it
  // succeeded.
  virtual std::size_t transfer(std::span<const I2cMessage> messages) = 0;
};

}  // namespace hv::dev
