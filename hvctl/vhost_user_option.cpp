#include "vhost_user_option.hpp"

#include <cstdio>

#include "hv/vhost/frontend_device.hpp"

namespace hvctl {

tl::expected<std::shared_ptr<hv::virtio::VirtioDevice>, VhostUserError> connect_vhost_user(
    std::string_view option, std::string_view socket, std::chrono::milliseconds reconnect) {
  const std::string path(socket);
  const std::string label = std::string(option) + " " + path;
  if (path.empty()) return tl::unexpected(VhostUserError{std::string(option) + " needs a SOCKET path"});
  // Nothing listening at SOCKET (missing, not a socket, refused, not accessible) is the command
  // line's mistake; a backend that answers but breaks the protocol is the host's.
  auto channel = hv::vhost::Channel::connect(path);
  if (!channel) return tl::unexpected(VhostUserError{label + ": cannot connect: " + channel.error().to_string()});
  auto device = attach_vhost_user(option, label, path, std::move(*channel), reconnect);
  if (!device) return tl::unexpected(device.error());
  return std::shared_ptr<hv::virtio::VirtioDevice>(std::move(*device));
}

tl::expected<std::shared_ptr<hv::vhost::VhostUserDevice>, VhostUserError> attach_vhost_user(
    std::string_view option, std::string_view label, const std::string& socket, hv::vhost::Channel channel,
    std::chrono::milliseconds reconnect) {
  const std::string prefix = std::string(label) + ": ";
  auto options = option == "--vhost-user-blk"   ? hv::vhost::vhost_user_blk_options()
                 : option == "--vhost-user-i2c" ? hv::vhost::vhost_user_i2c_options()
                                                : hv::vhost::vhost_user_rng_options();
  options.on_disconnect = [prefix, socket](const hv::Error& error, bool reconnecting) {
    if (reconnecting) {
      std::fprintf(stderr, "hvctl run: %sbackend at %s went away; reconnecting (%s)\n", prefix.c_str(), socket.c_str(),
                   error.to_string().c_str());
    } else {
      std::fprintf(stderr,
                   "hvctl run: %sthe backend went away (%s); the device needs a reset, the guest keeps running\n",
                   prefix.c_str(), error.to_string().c_str());
    }
  };
  options.on_reconnect = [prefix] { std::fprintf(stderr, "hvctl run: %sreconnected\n", prefix.c_str()); };
  options.on_activation_failed = [prefix](const hv::Error& error) {
    std::fprintf(
        stderr,
        "hvctl run: %sthe backend refused to start the device (%s); it needs a reset, the guest keeps running\n",
        prefix.c_str(), error.to_string().c_str());
  };
  options.on_ring_broken = [prefix](const hv::Error& error) {
    std::fprintf(stderr,
                 "hvctl run: %sthe backend broke a ring (%s); the device needs a reset, the guest keeps running\n",
                 prefix.c_str(), error.to_string().c_str());
  };
  options.reconnect_interval = reconnect;
  auto frontend = hv::vhost::Frontend::start(std::move(channel));
  if (!frontend) {
    return tl::unexpected(VhostUserError{prefix + "negotiation failed: " + frontend.error().to_string(), false});
  }
  auto device = hv::vhost::VhostUserDevice::create(std::move(*frontend), std::move(options), socket);
  if (!device) return tl::unexpected(VhostUserError{prefix + device.error().to_string(), false});
  return std::move(*device);
}

}  // namespace hvctl
