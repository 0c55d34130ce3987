#include "isolate_option.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>

#include "hv/vhost/channel.hpp"
#include "hv/vhost/frontend_device.hpp"

namespace hvctl {

namespace {

// The daemon creates its socket file (bind) a moment before it listens: a connection in between is
// refused, so the first connection is tried again for this long.
constexpr std::chrono::seconds kConnectTimeout{1};
constexpr std::chrono::milliseconds kConnectRetry{10};

}  // namespace

std::string own_directory() {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : exe.parent_path().string();
}

tl::expected<std::shared_ptr<hv::virtio::VirtioDevice>, VhostUserError> start_isolated(
    DeviceSupervisor& supervisor, const IsolatedDevice& device, const std::string& daemons,
    std::chrono::milliseconds reconnect) {
  const std::string prefix = device.label + ": ";
  const std::string program = (std::filesystem::path(daemons) / device.daemon).string();
  if (::access(program.c_str(), X_OK) != 0) {
    return tl::unexpected(VhostUserError{prefix + "--isolate: no device program " + program + " (" +
                                         std::strerror(errno) + "; --isolate-daemons DIR names their directory)"});
  }
  auto socket = supervisor.start({device.label, program, device.args});
  if (!socket) return tl::unexpected(VhostUserError{prefix + "--isolate: " + socket.error(), false});
  const auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  auto channel = hv::vhost::Channel::connect(*socket);
  while (!channel && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kConnectRetry);
    channel = hv::vhost::Channel::connect(*socket);
  }
  if (!channel) {
    return tl::unexpected(
        VhostUserError{prefix + "--isolate: cannot connect to " + *socket + ": " + channel.error().to_string(), false});
  }
  auto attached = attach_vhost_user(device.vhost_option, device.label, *socket, std::move(*channel), reconnect);
  if (!attached) return tl::unexpected(attached.error());
  // Weak: the devices may go before the supervisor's watcher does.
  (void)supervisor.on_give_up(*socket, [weak = std::weak_ptr<hv::vhost::VhostUserDevice>(*attached)] {
    if (auto live = weak.lock()) live->give_up();
  });
  return std::shared_ptr<hv::virtio::VirtioDevice>(std::move(*attached));
}

}  // namespace hvctl
