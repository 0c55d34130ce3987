#pragma once
// The --device-list syntax of rust-vmm's vhost-device-i2c, which hvkit-vhost-user-i2c shares:
//   BUS:ADDR[:ADDR...][,BUS:ADDR[:ADDR...]...]
// BUS is N of /dev/i2c-N; each ADDR a 7-bit client address, decimal as vhost-device-i2c reads it
// ("32") or hexadecimal with 0x ("0x20"). Example: "1:0x50:0x51,3:32" is clients 0x50 and 0x51 on
// /dev/i2c-1 and 0x20 on /dev/i2c-3.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "hv/error.hpp"

namespace hv::dev {

struct I2cBusClients {
  unsigned bus = 0;
  std::vector<std::uint8_t> addresses;
};

// One ADDR as the list writes it ("80" or "0x50"): a 7-bit address up to kI2cMaxAddress, or nullopt.
// hvkit-vhost-user-i2c's --eeprom ADDR takes the same form.
std::optional<std::uint8_t> parse_i2c_address(std::string_view text);

// InvalidArgument, naming the offending part, for: an empty list or entry, a bus without addresses, a
// number that does not parse or is out of range (bus above 1023, address above kI2cMaxAddress), a bus
// listed twice, or an address listed twice anywhere in the list (the guest sees one adapter).
Result<std::vector<I2cBusClients>> parse_i2c_device_list(std::string_view list);

}  // namespace hv::dev
