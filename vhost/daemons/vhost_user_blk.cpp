// hvkit-vhost-user-blk: virtio-blk on a host file, served to a vhost-user frontend (QEMU's
// -device vhost-user-blk, hvctl --vhost-user-blk). docs/vhost-user.md, "Backend daemons".
#include <algorithm>
#include <span>

#include "daemon_cli.hpp"
#include "sandbox_policies.hpp"
#include "hv/virtio/block.hpp"

int main(int argc, char** argv) {
  hvd::DaemonSpec spec;
  spec.name = "hvkit-vhost-user-blk";
  spec.capabilities = R"({"type": "block", "features": ["read-only", "blk-file"]})";
  spec.usage =
      "--blk-file FILE [--read-only] [--serial ID]\n"
      "Serves virtio-blk on FILE (a regular file, locked against a second writer) to one vhost-user\n"
      "frontend at a time; after one disconnects the device is reset and the next is accepted.\n"
      "  --blk-file FILE         the disk image (its size in whole 512-byte sectors is the capacity)\n"
      "  --read-only             open FILE read-only and offer VIRTIO_BLK_F_RO\n"
      "  --serial ID             the ID the driver reads with GET_ID: 1 to 20 printable ASCII characters\n"
      "                          (none: an empty ID, 20 NUL bytes)\n";
  spec.value_options = {"--blk-file", "--serial"};
  spec.flag_options = {"--read-only"};
  spec.sandbox_policy = [](const hvd::DaemonOptions& options) -> hv::Result<hvd::DevicePolicy> {
    auto image = hvd::descriptors_of(options.value("--blk-file"));
    if (!image) return tl::unexpected(image.error());
    return hvd::blk_policy(*image);
  };
  spec.make_device = [](const hvd::DaemonOptions& options,
                        std::string& error) -> std::shared_ptr<hv::virtio::VirtioDevice> {
    if (!options.has("--blk-file")) {
      error = "--blk-file FILE is required";
      return nullptr;
    }
    // The same rule as hvctl's --blk PATH,serial=ID: an ID given must say something.
    const std::string serial = options.value("--serial");
    const bool printable = std::all_of(serial.begin(), serial.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (options.has("--serial") &&
        (serial.empty() || serial.size() > hv::virtio::BlockDevice::kSerialBytes || !printable)) {
      error = "--serial ID takes 1 to 20 printable ASCII characters";
      return nullptr;
    }
    auto disk = hv::virtio::BlockDevice::open(options.value("--blk-file"),
                                              {.read_only = options.has("--read-only"), .serial = serial});
    if (!disk) {
      error = disk.error().to_string();
      return nullptr;
    }
    return *disk;
  };
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  return hvd::run_daemon(spec, std::vector<std::string>(args.begin() + 1, args.end()));
}
