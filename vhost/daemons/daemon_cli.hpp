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

namespace hvd {

struct DaemonSpec {
  std::string name;                     // "hvkit-vhost-user-blk"
  std::string capabilities;             // the --print-capabilities JSON, without the newline
  std::string usage;                    // the --help text after the common options
  std::set<std::string> value_options;  // the daemon's own, e.g. "--blk-file"
  std::set<std::string> flag_options;   // e.g. "--read-only"
  // Builds the device from the parsed options (values and flags: "--read-only" -> ""); an error
  // message (printed, exit 1) or the device.
  std::function<std::shared_ptr<hv::virtio::VirtioDevice>(const std::map<std::string, std::string>&, std::string&)>
      make_device;
};

// Parses `args`, prints what is asked for, serves frontends until the socket fails. The exit status:
// 0 (--help, --print-capabilities, a --fd connection that ended), 1 (the device or socket could not
// be set up, or the listening socket failed), 2 (a usage error).
int run_daemon(const DaemonSpec& spec, const std::vector<std::string>& args);

}  // namespace hvd
