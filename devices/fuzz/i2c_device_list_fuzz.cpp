// parse_i2c_device_list on any text: it never crashes, and whatever it accepts keeps the header's
// promises (buses 0..1023 listed once, each with addresses, every address 0..0x77 listed once in all),
// and printing it back in canonical form parses to the same list.
#include <array>
#include <string>
#include <string_view>

#include "hv/dev/i2c_bus.hpp"
#include "hv/dev/i2c_device_list.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto list = hv::dev::parse_i2c_device_list(text);
  if (!list) {
    if (list.error().kind() != hv::ErrorKind::InvalidArgument) __builtin_trap();
    return 0;
  }
  if (list->empty()) __builtin_trap();
  std::array<bool, 1024> bus_seen{};
  std::array<bool, hv::dev::kI2cMaxAddress + 1> address_seen{};
  std::string canonical;
  for (const auto& entry : *list) {
    if (entry.bus > 1023 || bus_seen[entry.bus] || entry.addresses.empty()) __builtin_trap();
    bus_seen[entry.bus] = true;
    if (!canonical.empty()) canonical += ',';
    canonical += std::to_string(entry.bus);
    for (const std::uint8_t address : entry.addresses) {
      if (address > hv::dev::kI2cMaxAddress || address_seen[address]) __builtin_trap();
      address_seen[address] = true;
      canonical += ':' + std::to_string(address);
    }
  }
  const auto again = hv::dev::parse_i2c_device_list(canonical);
  if (!again || again->size() != list->size()) __builtin_trap();
  for (std::size_t i = 0; i < list->size(); ++i) {
    if ((*again)[i].bus != (*list)[i].bus || (*again)[i].addresses != (*list)[i].addresses) __builtin_trap();
  }
  return 0;
}
