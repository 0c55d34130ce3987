// hvkit-vhost-user-i2c: a virtio-i2c adapter (virtio 1.2 §5.19) served to a vhost-user frontend (QEMU's
// -device vhost-user-i2c-device / vhost-user-i2c-pci, hvctl --vhost-user-i2c), in front of the host's
// I2C buses (/dev/i2c-N, only the listed clients) and simulated 24C02 EEPROMs. docs/vhost-user.md,
// "The i2c daemon".
#include <span>
#include <string>

#include "daemon_cli.hpp"
#include "sandbox_policies.hpp"
#include "hv/dev/host_i2c_bus.hpp"
#include "hv/dev/i2c_address_map.hpp"
#include "hv/dev/i2c_device_list.hpp"
#include "hv/dev/i2c_eeprom.hpp"
#include "hv/virtio/i2c.hpp"

namespace {

// Adds one --eeprom ADDR[=FILE] to `map`; an error message, or empty.
std::string add_eeprom(hv::dev::I2cAddressMap& map, const std::string& spec) {
  const auto eq = spec.find('=');
  const std::string address_text = spec.substr(0, eq);
  const auto address = hv::dev::parse_i2c_address(address_text);
  if (!address) {
    return "--eeprom " + spec + ": '" + address_text + "' is not a 7-bit address (0x00..0x77)";
  }
  auto eeprom = eq == std::string::npos ? hv::dev::I2cEeprom::create(*address)
                                        : hv::dev::I2cEeprom::open(*address, spec.substr(eq + 1));
  if (!eeprom) return "--eeprom " + spec + ": " + eeprom.error().to_string();
  if (auto added = map.add(*address, *eeprom); !added) return "--eeprom " + spec + ": " + added.error().to_string();
  return {};
}

// Adds the clients of --device-list LIST, each bus opened once; an error message, or empty.
std::string add_host_buses(hv::dev::I2cAddressMap& map, const std::string& list) {
  auto buses = hv::dev::parse_i2c_device_list(list);
  if (!buses) return "--device-list " + list + ": " + buses.error().to_string();
  for (const auto& entry : *buses) {
    const std::string name = "/dev/i2c-" + std::to_string(entry.bus);
    auto port = hv::dev::open_i2c_dev(entry.bus);
    if (!port) return name + ": " + port.error().to_string();
    auto bus = hv::dev::HostI2cBus::create(std::move(*port), entry.addresses, name);
    if (!bus) return name + ": " + bus.error().to_string();
    for (const auto address : entry.addresses) {
      if (auto added = map.add(address, *bus); !added) return name + ": " + added.error().to_string();
    }
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  hvd::DaemonSpec spec;
  spec.name = "hvkit-vhost-user-i2c";
  spec.capabilities = R"({"type": "i2c"})";
  spec.usage =
      "[--device-list LIST] [--eeprom ADDR[=FILE]]...\n"
      "Serves a virtio-i2c adapter to one vhost-user frontend at a time; after one disconnects the device\n"
      "is reset (the buses and EEPROM contents are not) and the next is accepted. At least one client:\n"
      "  --device-list LIST      host I2C clients, BUS:ADDR[:ADDR...][,BUS:ADDR...] (vhost-device-i2c's\n"
      "                          syntax): BUS is N of /dev/i2c-N, ADDR a 7-bit address, decimal or 0x hex;\n"
      "                          only the listed addresses are reachable, each on one bus\n"
      "  --eeprom ADDR[=FILE]    a simulated 24C02 EEPROM (256 bytes) at ADDR (e.g. 0x50), all 0xff, or\n"
      "                          FILE's 256 bytes (created, filled with 0xff, if missing; locked); every\n"
      "                          change is written back to FILE before the guest sees it complete;\n"
      "                          repeatable\n";
  spec.value_options = {"--device-list", "--eeprom"};
  spec.repeatable_options = {"--eeprom"};
  spec.sandbox_policy = [](const hvd::DaemonOptions& options) -> hv::Result<hvd::DevicePolicy> {
    std::vector<int> eeprom_fds;  // the backing files, written back while serving
    for (const auto& eeprom : options.all("--eeprom")) {
      const auto eq = eeprom.find('=');
      if (eq == std::string::npos) continue;  // in memory only
      auto fds = hvd::descriptors_of(eeprom.substr(eq + 1));
      if (!fds) return tl::unexpected(fds.error());
      eeprom_fds.insert(eeprom_fds.end(), fds->begin(), fds->end());
    }
    return hvd::i2c_policy(eeprom_fds);
  };
  spec.make_device = [](const hvd::DaemonOptions& options,
                        std::string& error) -> std::shared_ptr<hv::virtio::VirtioDevice> {
    if (!options.has("--device-list") && !options.has("--eeprom")) {
      error = "nothing to serve: give --device-list LIST or --eeprom ADDR[=FILE]";
      return nullptr;
    }
    auto map = std::make_shared<hv::dev::I2cAddressMap>();
    if (options.has("--device-list")) error = add_host_buses(*map, options.value("--device-list"));
    for (const auto& eeprom : options.all("--eeprom")) {
      if (error.empty()) error = add_eeprom(*map, eeprom);
    }
    if (!error.empty()) return nullptr;
    return std::make_shared<hv::virtio::I2cDevice>(map);
  };
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  return hvd::run_daemon(spec, std::vector<std::string>(args.begin() + 1, args.end()));
}
