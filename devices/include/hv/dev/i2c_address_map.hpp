#pragma once
// Several I2C buses behind one adapter (what one virtio-i2c device offers a guest): each 7-bit address
// belongs to at most one bus. A transaction whose messages all go to one bus is that bus's transaction;
// one that crosses buses is executed as consecutive runs, one per bus, in order (no repeated START
// between runs: two host buses cannot share one), stopping at the first failure. At most
// kI2cMaxTransactionMessages are executed: a longer transaction fails at the first message past them.
// add() is set-up: finish it before the map is shared with threads that transfer (the routes are then
// only read, and each bus serialises itself).

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "hv/dev/i2c_bus.hpp"
#include "hv/error.hpp"

namespace hv::dev {

class I2cAddressMap final : public I2cBus {
 public:
  // Routes `address` to `bus`. InvalidArgument for an address above kI2cMaxAddress, a null bus, or a
  // bus that does not serve the address; AlreadyExists when the address is already routed.
  Result<void> add(std::uint8_t address, std::shared_ptr<I2cBus> bus);
  [[nodiscard]] bool serves(std::uint8_t address) const override;
  std::size_t transfer(std::span<const I2cMessage> messages) override;

 private:
  std::array<std::shared_ptr<I2cBus>, kI2cMaxAddress + 1> routes_{};
};

}  // namespace hv::dev
