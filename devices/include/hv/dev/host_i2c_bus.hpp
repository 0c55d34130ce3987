#pragma once
// The host's I2C bus /dev/i2c-N, through Linux's i2c-dev interface, limited to the client addresses the
// operator listed (vhost-device-i2c's --device-list): only those are ever put on the wire.
//   - An adapter with I2C_FUNC_I2C executes a transaction with one I2C_RDWR ioctl (repeated STARTs).
//   - An SMBus-only adapter executes the message shapes SMBus has, through I2C_SLAVE and I2C_SMBUS, when
//     its I2C_FUNCS has the function: a zero-length write (quick write); a 1-byte read (receive byte);
//     a 1-byte write (send byte); 2 and 3-byte writes (write byte / word data); a write of 1 command
//     byte followed by a read of 1 or 2 bytes (read byte / word data) or of 1..32 bytes (I2C block
//     read); a write of 1 command byte plus 1..32 bytes (I2C block write). Any other shape fails.
//
// The kernel is reached through I2cDevPort, so the translation can be tested against a fake adapter
// (host_i2c_bus_test.cpp); linux_i2c_dev.cpp is the one file that issues the ioctls.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "hv/dev/i2c_bus.hpp"
#include "hv/error.hpp"

namespace hv::dev {

// The i2c-dev calls, one method each; every one returns the kernel's errno as an error.
class I2cDevPort {
 public:
  virtual ~I2cDevPort() = default;
  virtual Result<std::uint64_t> functionality() = 0;  // I2C_FUNCS
  // I2C_RDWR: `messages` as one combined transaction (at most kI2cMaxTransactionMessages).
  virtual Result<void> read_write(std::span<const I2cMessage> messages) = 0;
  virtual Result<void> set_target(std::uint8_t address) = 0;  // I2C_SLAVE
  // I2C_SMBUS: `read_write` is I2C_SMBUS_READ (1) or I2C_SMBUS_WRITE (0); `size` an I2C_SMBUS_* transfer
  // size; `data` the union's bytes (34: block[0] is a block's length), in and out.
  virtual Result<void> smbus(std::uint8_t read_write, std::uint8_t command, std::uint32_t size,
                             std::span<std::uint8_t, 34> data) = 0;
};

// Opens /dev/i2c-<bus> read-write (close-on-exec).
Result<std::unique_ptr<I2cDevPort>> open_i2c_dev(unsigned bus);

class HostI2cBus final : public I2cBus {
 public:
  // Over `port`, serving `clients` (7-bit addresses, each at most kI2cMaxAddress, no duplicates, at least
  // one: InvalidArgument otherwise). Queries I2C_FUNCS once; Unsupported when the adapter has neither
  // I2C_FUNC_I2C nor any SMBus function.
  static Result<std::shared_ptr<HostI2cBus>> create(std::unique_ptr<I2cDevPort> port, std::vector<std::uint8_t> clients,
                                                    std::string name);
  [[nodiscard]] bool serves(std::uint8_t address) const override;
  std::size_t transfer(std::span<const I2cMessage> messages) override;
  [[nodiscard]] bool plain_i2c() const noexcept { return (functions_ & kFuncI2c) != 0; }

  static constexpr std::uint64_t kFuncI2c = 0x00000001;  // I2C_FUNC_I2C (golden-tested in linux_i2c_dev)

 private:
  HostI2cBus() = default;
  std::mutex mutex_;
  std::unique_ptr<I2cDevPort> port_;
  std::vector<std::uint8_t> clients_;
  std::uint64_t functions_ = 0;
  std::string name_;  // "/dev/i2c-3", for logs
};

}  // namespace hv::dev
