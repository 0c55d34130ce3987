#pragma once
// What the two vhost-user daemons share on the command line (QEMU docs/interop/vhost-user.rst,
// "Backend program conventions"): --socket-path PATH or --fd N (one of them), --print-capabilities
// (print the JSON capability object and exit 0, ignoring everything else), --help; each option also in
// its --name=value form. Logs go to stderr, one line each, prefixed with the program's name.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hv/virtio/device.hpp"
#include "hv/error.hpp"
#include "sandbox_policies.hpp"

namespace hvd {

// The parsed command line: each option's values in the order given (a flag's value is "").
class DaemonOptions {
 public:
  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The value of an option given once (empty if it was not given).
  [[nodiscard]] std::string value(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::string() : it->second.front();
  }
  // Every value of a repeatable option, in order.
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>() : it->second;
  }
  void add(const std::string& name, std::string value) { values_[name].push_back(std::move(value)); }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

struct DaemonSpec {
  std::string name;                     // "hvkit-vhost-user-blk"
  std::string capabilities;             // the --print-capabilities JSON, without the newline
  std::string usage;                    // the --help text after the common options
  std::set<std::string> value_options;  // the daemon's own, e.g. "--blk-file"
  std::set<std::string> flag_options;   // e.g. "--read-only"
  // Value options that may be given more than once (e.g. "--eeprom"); any other option given twice is
  // a usage error, rather than the last one silently winning.
  std::set<std::string> repeatable_options;
  // Builds the device from the parsed options; an error message (printed, exit 1) or the device.
  std::function<std::shared_ptr<hv::virtio::VirtioDevice>(const DaemonOptions&, std::string&)> make_device;
  // The system calls its device makes while serving, beyond the common ones (sandbox_policies.hpp),
  // once the device is built: the descriptors of its files are known then.
  std::function<hv::Result<DevicePolicy>(const DaemonOptions&)> sandbox_policy;
};

// Parses `args` (and resolves --user), prints what is asked for, builds the device, opens the socket,
// confines the process (sandbox.hpp; unless --no-sandbox), serves frontends until the socket fails.
// The exit status: 0 (--help, --print-capabilities, a --fd connection that ended), 1 (--user without
// root, or the device, socket or sandbox could not be set up, or the listening socket failed), 2 (a
// usage error, an unknown --user among them). Nothing is created before the usage is checked.
int run_daemon(const DaemonSpec& spec, const std::vector<std::string>& args);

}  // namespace hvd
