#include "hv/dev/i2c_device_list.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string>

#include "hv/dev/i2c_bus.hpp"

namespace hv::dev {

namespace {

constexpr const char* kOp = "I2C device list";
constexpr unsigned kMaxBus = 1023;

tl::unexpected<Error> refuse(const std::string& message) { return fail(ErrorKind::InvalidArgument, kOp, message); }

// "32" or "0x20" (or "0X20"): digits only, no sign, no spaces; nullopt when it does not parse or is
// above `max`.
std::optional<unsigned> parse_number(std::string_view text, unsigned max) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  unsigned value = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic): from_chars takes a pointer range
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value, base);
  if (error != std::errc{} || stop != end || value > max) return std::nullopt;
  return value;
}

// The next `separator`-delimited part of `rest` (all of it when there is none), consumed.
std::string_view take_part(std::string_view& rest, char separator) {
  const std::size_t at = rest.find(separator);
  const std::string_view part = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return part;
}

}  // namespace

std::optional<std::uint8_t> parse_i2c_address(std::string_view text) {
  const auto value = parse_number(text, kI2cMaxAddress);
  if (!value) return std::nullopt;
  return static_cast<std::uint8_t>(*value);
}

Result<std::vector<I2cBusClients>> parse_i2c_device_list(std::string_view list) {
  if (list.empty()) return refuse("the list is empty");
  std::vector<I2cBusClients> buses;
  std::array<bool, kI2cMaxAddress + 1> address_seen{};
  std::string_view entries = list;
  bool more = true;
  while (more) {
    more = entries.find(',') != std::string_view::npos;
    const std::string_view entry = take_part(entries, ',');
    if (entry.empty()) return refuse("an empty entry in \"" + std::string(list) + "\"");
    std::string_view fields = entry;
    const std::string_view bus_text = take_part(fields, ':');
    const auto bus = parse_number(bus_text, kMaxBus);
    if (!bus)
      return refuse("bus \"" + std::string(bus_text) + "\" in \"" + std::string(entry) +
                    "\" is not a number from 0 to 1023");
    for (const auto& seen : buses) {
      if (seen.bus == *bus) return refuse("bus " + std::to_string(*bus) + " is listed twice");
    }
    if (entry.find(':') == std::string_view::npos || fields.empty()) {
      return refuse("bus " + std::to_string(*bus) + " in \"" + std::string(entry) + "\" has no addresses");
    }
    I2cBusClients clients{.bus = *bus, .addresses = {}};
    bool more_addresses = true;
    while (more_addresses) {
      more_addresses = fields.find(':') != std::string_view::npos;
      const std::string_view address_text = take_part(fields, ':');
      const auto address = parse_number(address_text, kI2cMaxAddress);
      if (!address) {
        return refuse("address \"" + std::string(address_text) + "\" in \"" + std::string(entry) +
                      "\" is not a 7-bit client address (0 to 0x77)");
      }
      if (address_seen.at(*address)) return refuse("address " + hex(*address) + " is listed twice");
      address_seen.at(*address) = true;
      clients.addresses.push_back(static_cast<std::uint8_t>(*address));
    }
    buses.push_back(std::move(clients));
  }
  return buses;
}

}  // namespace hv::dev
