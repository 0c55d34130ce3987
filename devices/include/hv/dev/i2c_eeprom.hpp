#pragma once
// A simulated 24C02-style I2C EEPROM: 256 bytes at one 7-bit address, for tests and demos.
//   - A write message's first byte sets the address pointer; the bytes after it are stored from there,
//     the pointer incrementing and wrapping at 256. A one-byte write only sets the pointer.
//   - A read message returns bytes from the pointer, incrementing and wrapping at 256.
//   - A zero-length message (a probe) succeeds.
// Contents start as 0xff, or as a backing file's 256 bytes. With a backing file, every transaction that
// changed the contents writes all 256 bytes back before it reports success, so a write the guest saw
// succeed survives the process exiting; a write-back that fails fails the message.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hv/dev/i2c_bus.hpp"
#include "hv/error.hpp"
#include "hv/unique_fd.hpp"

namespace hv::dev {

class I2cEeprom final : public I2cBus {
 public:
  static constexpr std::size_t kSize = 256;
  // An EEPROM at `address` (at most kI2cMaxAddress, else InvalidArgument), all 0xff, in memory only.
  static Result<std::shared_ptr<I2cEeprom>> create(std::uint8_t address);
  // Backed by `path`: an existing file must be a regular file of exactly kSize bytes (its contents are
  // loaded); a missing one is created, filled with 0xff. The file is locked (an open-file-description
  // write lock, as virtio-blk's disk and QEMU's images) against a second process: Busy if one holds it.
  static Result<std::shared_ptr<I2cEeprom>> open(std::uint8_t address, const std::string& path);

  [[nodiscard]] bool serves(std::uint8_t address) const override { return address == address_; }
  std::size_t transfer(std::span<const I2cMessage> messages) override;

  [[nodiscard]] std::array<std::uint8_t, kSize> contents() const;
  [[nodiscard]] std::uint8_t pointer() const;

 private:
  explicit I2cEeprom(std::uint8_t address) : address_(address) {}
  const std::uint8_t address_;
  mutable std::mutex mutex_;
  std::array<std::uint8_t, kSize> bytes_{};
  std::uint8_t pointer_ = 0;
  std::optional<UniqueFd> file_;  // the backing file, locked
};

}  // namespace hv::dev
