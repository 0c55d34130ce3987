#pragma once
// `hvctl run --isolate`: each --blk and --rng device runs in a vhost-user daemon that hvctl starts
// (hvkit-vhost-user-blk, hvkit-vhost-user-rng from --isolate-daemons DIR, by default hvctl's own
// directory), watches and restarts (DeviceSupervisor), attached as --vhost-user-blk / -rng would be.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "device_supervisor.hpp"
#include "hv/virtio/device.hpp"
#include "vhost_user_option.hpp"

namespace hvctl {

// One device option as a daemon's command line.
struct IsolatedDevice {
  std::string label;              // the option as given: "--blk disk.img,ro", "--rng"
  std::string daemon;             // the program's file name: "hvkit-vhost-user-blk"
  std::string vhost_option;       // how hvctl attaches it: "--vhost-user-blk"
  std::vector<std::string> args;  // the daemon's options but --socket-path: "--blk-file", "disk.img"
};

// The directory hvctl runs from (/proc/self/exe's): where `make install` puts the daemons too.
// Empty if it cannot be read.
std::string own_directory();

// Starts `device`'s daemon from `daemons` under `supervisor` and attaches it. A daemon missing from
// `daemons` (or not executable) is a usage error naming its path; one that does not start, listen or
// negotiate is a host error.
tl::expected<std::shared_ptr<hv::virtio::VirtioDevice>, VhostUserError> start_isolated(
    DeviceSupervisor& supervisor, const IsolatedDevice& device, const std::string& daemons,
    std::chrono::milliseconds reconnect);

}  // namespace hvctl
