#include "hv/dev/i2c_address_map.hpp"

#include <algorithm>

namespace hv::dev {

Result<void> I2cAddressMap::add(std::uint8_t address, std::shared_ptr<I2cBus> bus) {
  constexpr const char* op = "I2C address map";
  if (address > kI2cMaxAddress)
    return fail(ErrorKind::InvalidArgument, op, "address " + hex(address) + " is above 0x77");
  if (!bus) return fail(ErrorKind::InvalidArgument, op, "no bus for address " + hex(address));
  if (!bus->serves(address)) {
    return fail(ErrorKind::InvalidArgument, op, "the bus given for " + hex(address) + " does not serve it");
  }
  auto& route = routes_.at(address);
  if (route) return fail(ErrorKind::AlreadyExists, op, "address " + hex(address) + " is already routed");
  route = std::move(bus);
  return {};
}

namespace {

// The bus routed for `address`, or null.
I2cBus* route(std::span<const std::shared_ptr<I2cBus>> routes, std::uint8_t address) {
  return address < routes.size() ? routes[address].get() : nullptr;
}

}  // namespace

bool I2cAddressMap::serves(std::uint8_t address) const { return route(routes_, address) != nullptr; }

std::size_t I2cAddressMap::transfer(std::span<const I2cMessage> messages) {
  const std::size_t bound = std::min(messages.size(), kI2cMaxTransactionMessages);
  std::size_t done = 0;
  while (done < bound) {
    // The longest run of consecutive messages for one bus is that bus's transaction.
    I2cBus* const bus = route(routes_, messages[done].address);
    if (!bus) return done;
    std::size_t end = done + 1;
    while (end < bound && route(routes_, messages[end].address) == bus) ++end;
    const std::size_t run = end - done;
    const std::size_t succeeded = std::min(bus->transfer(messages.subspan(done, run)), run);
    done += succeeded;
    if (succeeded < run) return done;
  }
  return done;
}

}  // namespace hv::dev
