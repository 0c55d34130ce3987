// hvkit-vhost-user-rng: virtio-rng (getrandom(2)) served to a vhost-user frontend (QEMU's
// -device vhost-user-rng, hvctl --vhost-user-rng). docs/vhost-user.md, "Backend daemons".
#include <span>

#include "daemon_cli.hpp"
#include "sandbox_policies.hpp"
#include "hv/virtio/rng.hpp"

int main(int argc, char** argv) {
  hvd::DaemonSpec spec;
  spec.name = "hvkit-vhost-user-rng";
  spec.capabilities = R"({"type": "rng"})";
  spec.usage =
      "\n"
      "Serves virtio-rng (bytes from getrandom(2)) to one vhost-user frontend at a time; after one\n"
      "disconnects the device is reset and the next is accepted.\n";
  spec.sandbox_policy = [](const hvd::DaemonOptions&) -> hv::Result<hvd::DevicePolicy> { return hvd::rng_policy(); };
  spec.make_device = [](const hvd::DaemonOptions&, std::string&) {
    return std::shared_ptr<hv::virtio::VirtioDevice>(std::make_shared<hv::virtio::RngDevice>());
  };
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  return hvd::run_daemon(spec, std::vector<std::string>(args.begin() + 1, args.end()));
}
