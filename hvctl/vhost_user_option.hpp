#pragma once
// `hvctl run --vhost-user-blk SOCKET`, `--vhost-user-rng SOCKET` and `--vhost-user-i2c SOCKET`: a virtio
// device served by a vhost-user backend process listening at SOCKET, connected and negotiated while the
// command line is read (bounded: a silent backend fails the run within hv::vhost::FrontendOptions'
// timeout). `--isolate` devices (isolate_option.hpp) attach the same way to the daemons hvctl starts.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "hv/vhost/channel.hpp"
#include "hv/vhost/frontend_device.hpp"
#include "hv/virtio/device.hpp"

namespace hvctl {

// Why a --vhost-user-* option was refused, and whether that is the command line's mistake (nothing
// to connect to at SOCKET: a usage error) or the backend's (it broke the protocol: a host error).
struct VhostUserError {
  std::string message;
  bool usage = true;
};

// `option` is "--vhost-user-blk", "--vhost-user-rng" or "--vhost-user-i2c". The device reports a backend that goes away
// once per connection, on stderr ("backend at SOCKET went away; reconnecting"), connects to SOCKET
// again every `reconnect` (reporting "reconnected") while the guest keeps running; with `reconnect`
// 0 (or a packed ring) it needs a reset instead.
tl::expected<std::shared_ptr<hv::virtio::VirtioDevice>, VhostUserError> connect_vhost_user(
    std::string_view option, std::string_view socket, std::chrono::milliseconds reconnect);

// The same on a channel already connected to `socket`; the reports name `label` ("--blk disk.img")
// instead of "OPTION SOCKET". The device itself, for --isolate's give-up.
tl::expected<std::shared_ptr<hv::vhost::VhostUserDevice>, VhostUserError> attach_vhost_user(
    std::string_view option, std::string_view label, const std::string& socket, hv::vhost::Channel channel,
    std::chrono::milliseconds reconnect);

}  // namespace hvctl
