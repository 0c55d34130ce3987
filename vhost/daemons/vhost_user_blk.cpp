// hvkit-vhost-user-blk: virtio-blk on a host file, served to a vhost-user frontend (QEMU's
// -device vhost-user-blk, hvctl --vhost-user-blk). docs/vhost-user.md, "Backend daemons".
#include <algorithm>
#include <span>
#include <string>

#include "daemon_cli.hpp"
#include "sandbox_policies.hpp"
#include "hv/virtio/block.hpp"

namespace {

// --num-queues, --queue-depth: decimal digits only (no sign, no spaces), 1..max.
bool parse_count(const std::string& text, unsigned max, std::uint16_t& out) {
  if (text.empty() || text.size() > 2) return false;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > max) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  hvd::DaemonSpec spec;
  spec.name = "hvkit-vhost-user-blk";
  spec.capabilities = R"({"type": "block", "features": ["read-only", "blk-file"]})";
  spec.usage =
      "--blk-file FILE [--read-only] [--direct] [--serial ID] [--num-queues N] [--queue-depth N]\n"
      "Serves virtio-blk on FILE (a regular file, locked against a second writer) to one vhost-user\n"
      "frontend at a time; after one disconnects the device is reset and the next is accepted.\n"
      "  --blk-file FILE         the disk image (its size in whole 512-byte sectors is the capacity)\n"
      "  --read-only             open FILE read-only and offer VIRTIO_BLK_F_RO\n"
      "  --direct                open FILE with O_DIRECT (no host page cache); guest buffers direct I/O\n"
      "                          cannot take are copied through an aligned buffer\n"
      "  --serial ID             the ID the driver reads with GET_ID: 1 to 20 printable ASCII characters\n"
      "                          (none: an empty ID, 20 NUL bytes)\n"
      "  --num-queues N          request queues, 1 to " +
      std::to_string(hv::virtio::BlockDevice::kMaxQueues) +
      " (default 1); more than one offers VIRTIO_BLK_F_MQ,\n"
      "                          each queue served by worker threads of its own\n"
      "  --queue-depth N         requests of one queue in flight at once: the worker threads per queue,\n"
      "                          1 to " +
      std::to_string(hv::virtio::BlockDevice::kMaxQueueDepth) + " (default " +
      std::to_string(hv::virtio::BlockOptions{}.queue_depth) + ")\n";
  spec.value_options = {"--blk-file", "--serial", "--num-queues", "--queue-depth"};
  spec.flag_options = {"--read-only", "--direct"};
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
    hv::virtio::BlockOptions blk;
    blk.read_only = options.has("--read-only");
    blk.direct = options.has("--direct");
    blk.serial = serial;
    if (options.has("--num-queues") &&
        !parse_count(options.value("--num-queues"), hv::virtio::BlockDevice::kMaxQueues, blk.num_queues)) {
      error = "--num-queues '" + options.value("--num-queues") + "': 1 to " +
              std::to_string(hv::virtio::BlockDevice::kMaxQueues);
      return nullptr;
    }
    if (options.has("--queue-depth") &&
        !parse_count(options.value("--queue-depth"), hv::virtio::BlockDevice::kMaxQueueDepth, blk.queue_depth)) {
      error = "--queue-depth '" + options.value("--queue-depth") + "': 1 to " +
              std::to_string(hv::virtio::BlockDevice::kMaxQueueDepth);
      return nullptr;
    }
    auto disk = hv::virtio::BlockDevice::open(options.value("--blk-file"), blk);
    if (!disk) {
      error = disk.error().to_string();
      return nullptr;
    }
    return *disk;
  };
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  return hvd::run_daemon(spec, std::vector<std::string>(args.begin() + 1, args.end()));
}
