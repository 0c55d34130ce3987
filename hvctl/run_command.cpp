#include "run_command.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

#include "demo_guest.hpp"
#include "device_supervisor.hpp"
#include "hv/backend_registry.hpp"
#include "hv/dev/byte_sink.hpp"
#include "hv/dev/scratch_device.hpp"
#include "hv/unique_fd.hpp"
#include "hv/virtio/block.hpp"
#include "hv/virtio/console.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/vmm/image_loader.hpp"
#include "hv/vmm/machine.hpp"
#include "hv/vmm/multiboot_loader.hpp"
#include "hv/dev/cmos_rtc.hpp"
#include "hv/dev/debug_exit.hpp"
#include "hv/dev/i8042.hpp"
#include "hv/x86_boot.hpp"
#include "isolate_option.hpp"
#include "stop_watcher.hpp"
#include "terminal_filter.hpp"
#include "vhost_user_option.hpp"

namespace hvctl {

namespace {

constexpr int kUsageError = 2, kGuestFailed = 3, kHypervisorError = 4;
constexpr std::uint32_t kMaxGuestStatus = 255;  // debug-exit values above it exit with it
constexpr std::uint64_t kMaxImageBytes = 1ULL << 30;
constexpr std::uint64_t kFourGiB = 4ULL << 30;
constexpr std::uint64_t kStackSize = 0x10000;  // Machine's long-mode stack per vCPU (README: 64 KiB)
constexpr std::uint64_t kMaxTimeoutSeconds = 365ULL * 24 * 3600;
constexpr std::uint64_t kMaxReconnectMs = 60000;
constexpr std::uint64_t kMaxModuleBytes = 1ULL << 30;  // all --module files together

const char* const kUsage =
    "usage: hvctl run [--backend NAME] [--memory MiB] [--vcpus N] [--mode real|long] [--load ADDR]\n"
    "                 [--entry ADDR] [--timeout SECONDS] [--testdev]\n"
    "                 [--blk PATH[,ro|,rw][,serial=ID][,direct=on]]... [--rng]\n"
    "                 [--isolate [--isolate-daemons DIR]] [--vhost-user-reconnect MS]\n"
    "                 [--vhost-user-blk SOCKET]... [--vhost-user-rng SOCKET]...\n"
    "                 [--vhost-user-i2c SOCKET]...\n"
    "                 [--console] [--console-max-bytes N] [--console-rate BYTES_PER_S]\n"
    "                 [--console-filter auto|on|off] [--isa-debug-exit PORT]\n"
    "                 [IMAGE | --multiboot IMAGE [--module FILE]... [--cmdline TEXT]]\n"
    "       hvctl run [options] --kernel PATH [--initrd PATH] [--cmdline TEXT]\n"
    "Boots IMAGE (a regular file: raw binary, or ELF64 by its PT_LOAD segments) or, without IMAGE, the\n"
    "embedded demo guest (one vCPU, long mode: --mode real, --load, --entry and --vcpus need an IMAGE).\n"
    "Devices: 16550A UART at port 0x3f8 on stdin/stdout, i8042 at 0x60/0x64, CMOS RTC at 0x70/0x71,\n"
    "debug-exit at 0x501 (a write of v ends the VM with status v); --testdev adds a 4 KiB scratch MMIO\n"
    "window at 0xd8000000 and a 4-byte scratch port at 0xe0.\n"
    "Virtio (virtio-mmio version 2, one 4 KiB window each): --blk (a disk on the regular file PATH,\n"
    "read-write, or read-only with ,ro; ,serial=ID gives the ID the guest reads with GET_ID, 1 to 20\n"
    "printable ASCII characters, none by default; ,direct=on opens PATH with O_DIRECT (no host page\n"
    "cache); PATH cannot contain ','; PATH is locked while hvctl\n"
    "runs: ,ro disks may share an image, a read-write one may not, in this or any other process;\n"
    "repeatable), --rng and --console (one port on stdin/stdout, which the UART then no longer reads)\n"
    "attach devices at guest-physical 0xd0000000 + 0x1000 * n in the order given, each with its own\n"
    "interrupt line (unconnected, so drivers poll the used ring, except with --kernel: GSI 16 + n).\n"
    "RAM must end below 0xd0000000.\n"
    "--vhost-user-blk SOCKET, --vhost-user-rng SOCKET and --vhost-user-i2c SOCKET (repeatable) attach a\n"
    "block, entropy or I2C adapter device served by a vhost-user backend process listening at the Unix\n"
    "socket SOCKET (qemu-storage-daemon, hvkit-vhost-user-blk, hvkit-vhost-user-rng,\n"
    "hvkit-vhost-user-i2c...), in the same sequence of windows; guest RAM is\n"
    "shared with it by memfd. hvctl connects and negotiates while reading the command line (nothing\n"
    "listening at SOCKET: exit 2; a backend that breaks the protocol or stays silent for 5 s: exit 4).\n"
    "A backend that goes away later is reported on stderr and the guest keeps running and keeps its\n"
    "device: hvctl connects to SOCKET again every MS milliseconds (--vhost-user-reconnect, default 250,\n"
    "for the --vhost-user-* options after it), for as long as it takes, restarts the device's rings on\n"
    "the new backend where the guest's used rings show them and reports \"reconnected\". With\n"
    "--vhost-user-reconnect 0 (or a packed ring) the device needs a reset (DEVICE_NEEDS_RESET) instead.\n"
    "A backend that leaves a split ring unusable (a used index ahead of the available one, a used\n"
    "element naming a descriptor past the ring) is reported (\"the backend broke a ring\") and the device\n"
    "needs a reset; the guest keeps running. hvctl never reads used lengths: the guest bounds those.\n"
    "--isolate runs each --blk and --rng device out of process instead: hvctl starts a vhost-user daemon\n"
    "for it (hvkit-vhost-user-blk --blk-file PATH [--read-only] [--direct] [--serial=ID],\n"
    "hvkit-vhost-user-rng; from DIR, by default hvctl's own directory; one missing: exit 2) listening in a new\n"
    "private directory (mode 0700, under $TMPDIR or /tmp), attaches it as --vhost-user-* would (with the\n"
    "--vhost-user-reconnect in force before the device's option), and restarts a daemon that dies by a\n"
    "signal or a nonzero exit (\"device process PID died (signal N); restarting\"; at most 5 times a\n"
    "minute, then \"giving up\": the device needs a reset (DEVICE_NEEDS_RESET) and stays without a backend\n"
    "while the guest runs). The daemons' standard input\n"
    "is /dev/null, their output goes to hvctl's stderr; hvctl ends them (SIGTERM, SIGKILL after 2 s) and\n"
    "removes the directories when it exits, and they die with hvctl if it is killed.\n"
    "--console-max-bytes N and --console-rate BYTES_PER_S limit the guest's output through the UART and\n"
    "the virtio console together: at most N bytes in all (default 67108864, 64 MiB) and BYTES_PER_S\n"
    "bytes a second, in bursts of up to one second's worth (default 1048576, 1 MiB/s); 0 = unlimited.\n"
    "Output beyond a limit is dropped, and the count reported on stderr when the run ends.\n"
    "--console-filter: on a terminal (auto, the default: when stdout is a terminal) or always (on), guest\n"
    "output loses the terminal control strings it carries (OSC such as OSC 52 clipboard writes and\n"
    "window titles, DCS, SOS, PM, APC; in 7-bit, C1 and UTF-8 C1 forms), ESC % coding switches and\n"
    "malformed UTF-8; text, CR, LF, TAB, BS and CSI sequences (colours, cursor) pass. off passes every\n"
    "byte. Dropped bytes are counted on stderr when the run ends.\n"
    "--multiboot IMAGE boots a Multiboot (version 1) kernel, an ELF32 executable, as GRUB or QEMU's -kernel\n"
    "would: vCPU 0 enters it in 32-bit protected mode with paging off, EAX = 0x2BADB002 and EBX = the\n"
    "information block (memory sizes, the command line \"IMAGE TEXT\" or \"IMAGE\", the modules, a memory\n"
    "map); the interrupt controllers are in the kernel and the other vCPUs wait for the guest's INIT/SIPI.\n"
    "--module FILE (up to 16, 1 GiB in all) is loaded page-aligned from 1 MiB (after the kernel when it\n"
    "does not fit below it) with the string FILE. --mode, --load and --entry do not apply.\n"
    "--isa-debug-exit PORT adds QEMU's isa-debug-exit (4 ports from PORT): a write of v ends the run with\n"
    "exit status ((v << 1) | 1) & 255, as QEMU's process would, so tests written for QEMU run unchanged\n"
    "(kvm-unit-tests: --isa-debug-exit 0xf4). Unclaimed ports read as all-ones and ignore writes.\n"
    "Long mode (default): identity paging over the first 4 GiB, raw images load at 0x100000; the entry\n"
    "must be in RAM and below 4 GiB. Real mode: one vCPU, raw images load at 0x7c00, the entry must be\n"
    "below 64 KiB. --load applies to raw images only. A raw image must fit in RAM at its load address.\n"
    "--kernel PATH boots a Linux kernel instead of IMAGE (docs/linux-boot.md): a vmlinux ELF64 with a PVH\n"
    "entry note (entered in 32-bit protected mode, EBX = hvm_start_info) or a bzImage of boot protocol\n"
    "2.12 or later with a 64-bit entry (entered in long mode, RSI = boot_params); --initrd PATH is handed\n"
    "over as the PVH module or the bzImage ramdisk, at the top of RAM; --cmdline TEXT is the command line\n"
    "(at most the kernel's cmdline_size bytes; 2047 for PVH). An MP table describes --vcpus CPUs (1 to\n"
    "254), the LAPIC and the IOAPIC; the in-kernel irqchip and, where the backend has one (kvm), the\n"
    "in-kernel PIT are on, the UART interrupts on IRQ 4, vCPU 0 boots and the others wait for INIT/SIPI.\n"
    "RAM (--memory) must end at or below 0xc0000000. A kernel hvkit cannot boot is a usage error (2).\n"
    "This host's nested KVM needs \"noxsave clearcpuid=308,534,151,59,131 nofsgsbase nopcid noinvpcid\" on\n"
    "a real kernel's command line (docs/linux-boot.md).\n"
    "--timeout ends the run after SECONDS (1 to 31536000); SIGINT and SIGTERM stop the machine cleanly.\n"
    "Exit status (a guest can write any of these to debug-exit too; the message on stderr tells which):\n"
    "  N        the guest wrote N (0-255) to debug-exit: \"guest wrote N to debug-exit\"\n"
    "  odd N    the guest wrote v to --isa-debug-exit: N = ((v << 1) | 1) & 255\n"
    "  255      the guest wrote a value above 255 to debug-exit\n"
    "  0        every vCPU halted\n"
    "  2        usage error, found before any backend is opened: a bad or inapplicable option, an\n"
    "           unknown backend NAME, an unusable IMAGE or --blk file (missing, not a regular file, not\n"
    "           accessible, in use), nothing listening at a --vhost-user-* SOCKET, a device program\n"
    "           --isolate needs missing from its directory, a machine that cannot be laid out in RAM\n"
    "  3        the guest shut down, triple-faulted or asked for a reset\n"
    "  4        hypervisor or host error: whatever fails once the command line is accepted (a kernel\n"
    "           EINVAL included), a known backend this host cannot open, and a vhost-user backend\n"
    "           that fails negotiation, an --isolate daemon that does not start or listen within 5 s\n"
    "  124      --timeout passed: \"timed out after N s\"\n"
    "  130, 143 SIGINT, SIGTERM (128 + the signal number): \"stopped by SIGINT\"\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "hvctl run: %s\n%s", message.c_str(), kUsage);
  return kUsageError;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Reads the guest image. Only a regular file of 1 byte to 1 GiB is accepted: a directory or a FIFO is
// refused from fstat (the open does not wait for a FIFO's writer), and nothing is allocated before
// the size is known.
std::optional<std::vector<std::uint8_t>> read_image(const std::string& path, std::string& error,
                                                    const std::string& what = "IMAGE") {
  const hv::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    error = "cannot open " + what + " " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    error = what + " " + path + " is a directory";
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = what + " " + path + " is not a regular file";
    return std::nullopt;
  }
  if (st.st_size <= 0 || static_cast<std::uint64_t>(st.st_size) > kMaxImageBytes) {
    error = what + " " + path + ": size " + std::to_string(st.st_size) + " is not between 1 byte and 1 GiB";
    return std::nullopt;
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot read " + what + " " + path +
              (n < 0 ? std::string(": ") + std::strerror(errno) : ": it shrank while read");
      return std::nullopt;
    }
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

// `--blk PATH[,FLAG]...`: everything after the first ',' is a comma-separated list of flags (ro, rw,
// serial=ID, direct=on|off), so a file name that contains ',' cannot be given. The file type is checked by
// BlockDevice::open without opening anything but a regular file (a FIFO would wait for a writer), and
// the image is locked there: a second --blk of one image, or one another process has, is refused.
// Why a --blk was refused, and whether that is the command line's mistake (a usage error) or the host's.
struct DiskError {
  std::string message;
  bool usage = true;
};

// Whether BlockDevice::open's error is about the file the command line named (missing, not a regular
// file, not accessible, in use) rather than the host failing (EIO, a kernel EINVAL, out of memory).
bool names_an_unusable_file(const hv::Error& error) {
  switch (error.kind()) {
    case hv::ErrorKind::InvalidArgument:    // hvkit's own checks: not a regular file, changed while opened
    case hv::ErrorKind::Unavailable:        // ENOENT, ENODEV, ENXIO
    case hv::ErrorKind::PermissionDenied:   // EACCES, EPERM
    case hv::ErrorKind::Busy: return true;  // locked by another --blk or process
    default: return false;
  }
}

// A --blk opened: the device, and what the command line said (for --isolate's daemon).
struct Disk {
  std::shared_ptr<hv::virtio::BlockDevice> device;
  std::string path;
  hv::virtio::BlockOptions options;
};

tl::expected<Disk, DiskError> open_disk(std::string_view spec) {
  const auto comma = spec.find(',');
  const std::string path(spec.substr(0, comma));
  const std::string prefix = "--blk " + std::string(spec) + ": ";
  hv::virtio::BlockOptions options;
  bool access_given = false, serial_given = false, direct_given = false;
  constexpr std::string_view kSerial = "serial=";
  for (std::string_view rest = spec.substr(std::min(comma, spec.size())); !rest.empty();) {
    rest.remove_prefix(1);  // the ',' before this flag
    const std::string_view flag = rest.substr(0, rest.find(','));
    rest.remove_prefix(flag.size());
    if (flag == "ro" || flag == "rw") {
      if (access_given) return tl::unexpected(DiskError{prefix + "ro or rw can be given once"});
      access_given = true;
      options.read_only = flag == "ro";
    } else if (flag == "direct=on" || flag == "direct=off") {
      if (direct_given) return tl::unexpected(DiskError{prefix + "direct= can be given once"});
      direct_given = true;
      options.direct = flag == "direct=on";
    } else if (flag.substr(0, kSerial.size()) == kSerial) {
      const std::string_view id = flag.substr(kSerial.size());
      if (serial_given) return tl::unexpected(DiskError{prefix + "serial= can be given once"});
      serial_given = true;
      const bool printable = std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
      if (id.empty() || id.size() > hv::virtio::BlockDevice::kSerialBytes || !printable) {
        return tl::unexpected(DiskError{prefix + "serial=ID takes 1 to 20 printable ASCII characters"});
      }
      options.serial = id;
    } else {
      return tl::unexpected(
          DiskError{prefix + "unknown flag '" + std::string(flag) +
                    "' (flags: ro, rw, serial=ID, direct=on|off; a PATH containing ',' cannot be given)"});
    }
  }
  if (path.empty()) return tl::unexpected(DiskError{prefix + "no PATH"});
  auto disk = hv::virtio::BlockDevice::open(path, options);
  if (!disk) {
    if (disk.error().kind() == hv::ErrorKind::Busy) {
      return tl::unexpected(
          DiskError{"--blk " + path + ": " + path + " is in use by another process or another --blk"});
    }
    return tl::unexpected(
        DiskError{"--blk " + path + ": " + disk.error().to_string(), names_an_unusable_file(disk.error())});
  }
  return Disk{*disk, path, options};
}

// A --blk or --rng, which --isolate runs in a daemon instead: where it is among the virtio devices,
// the option as given, the disk (none for --rng) and the --vhost-user-reconnect in force there.
struct LocalDevice {
  std::size_t slot = 0;
  std::string label;
  std::optional<Disk> disk;
  std::chrono::milliseconds reconnect{};
};

// The daemon's command line for `local`.
IsolatedDevice isolated_device(const LocalDevice& local) {
  if (!local.disk) return IsolatedDevice{local.label, "hvkit-vhost-user-rng", "--vhost-user-rng", {}};
  IsolatedDevice device{local.label, "hvkit-vhost-user-blk", "--vhost-user-blk", {"--blk-file", local.disk->path}};
  if (local.disk->options.read_only) device.args.emplace_back("--read-only");
  if (local.disk->options.direct) device.args.emplace_back("--direct");
  // One word, in the --name=value form: an ID that starts with '-' is not read as an option.
  if (!local.disk->options.serial.empty()) device.args.push_back("--serial=" + local.disk->options.serial);
  return device;
}

// Feeds stdin to the UART's receive FIFO. Memory stays bounded: at most one 64-byte chunk is held
// while the FIFO is full, and the pump waits (rather than buffering) until the guest drains it.
// Feeds standard input to the guest through `enqueue` (returns how many bytes it took), waiting while
// the device's input buffer is full.
template <class Enqueue>
void pump_stdin(Enqueue enqueue, const std::atomic<bool>& stop) {
  std::uint8_t chunk[64];
  while (!stop.load()) {
    pollfd p{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;  // EOF or error: no more input
    std::span<const std::uint8_t> pending(chunk, static_cast<std::size_t>(n));
    while (!pending.empty() && !stop.load()) {
      const std::size_t accepted = enqueue(pending);
      pending = pending.subspan(accepted);
      if (accepted == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// The fixed port devices of hv::vmm::Machine (README): an --isa-debug-exit over one is refused.
std::optional<std::string> isa_debug_exit_conflict(const hv::vmm::MachineConfig& config) {
  if (!config.isa_debug_exit_port) return std::nullopt;
  struct Ports {
    std::uint64_t base, size;
    const char* name;
  };
  std::vector<Ports> taken{{0x3f8, 8, "the UART"},
                           {hv::dev::I8042::kBase, hv::dev::I8042::kSize, "the i8042"},
                           {hv::dev::CmosRtc::kBase, hv::dev::CmosRtc::kSize, "the CMOS RTC"},
                           {hv::dev::DebugExit::kDefaultPort, hv::dev::DebugExit::kSize, "the debug-exit"}};
  if (config.testdev)
    taken.push_back({hv::dev::ScratchDevice::kPioBase, hv::dev::ScratchDevice::kPioSize, "--testdev"});
  const std::uint64_t port = *config.isa_debug_exit_port;
  if (port > 0x10000 - hv::dev::DebugExit::kSize) return "--isa-debug-exit takes a port from 0 to 0xfffc (4 ports)";
  for (const auto& t : taken) {
    if (port < t.base + t.size && t.base < port + hv::dev::DebugExit::kSize) {
      return "--isa-debug-exit " + hex(port) + " overlaps " + t.name + " at " + hex(t.base);
    }
  }
  return std::nullopt;
}

// --multiboot: what cannot apply to a Multiboot kernel, or a kernel that cannot load in this RAM.
std::optional<std::string> inapplicable_multiboot_option(const hv::vmm::MachineConfig& config, const std::string& ram) {
  if (config.mode == hv::vmm::BootMode::Real)
    return "--mode real cannot apply to --multiboot: the kernel starts in protected mode";
  if (config.load_address) return "--load cannot apply to --multiboot: the kernel's segments load at their addresses";
  if (config.entry) return "--entry cannot apply to --multiboot: the kernel's ELF header names its entry";
  auto planned = hv::vmm::plan_multiboot(config.image);
  if (!planned) return "--multiboot IMAGE cannot be loaded: " + std::string(planned.error().message());
  if (planned->highest >= config.memory_bytes) {
    return "--multiboot IMAGE's segments (" + hex(planned->lowest) + " to " + hex(planned->highest) +
           ") do not fit in RAM: " + ram;
  }
  return std::nullopt;
}

// Why an option given cannot apply to this guest (refused as a usage error before any backend is
// opened, rather than ignored or left to fail inside the guest), or nullopt.
std::optional<std::string> inapplicable_option(const hv::vmm::MachineConfig& config, bool demo) {
  const bool real = config.mode == hv::vmm::BootMode::Real;
  const std::uint64_t ram_end = config.memory_bytes;
  const std::string ram = "RAM (--memory " + std::to_string(ram_end >> 20) + " MiB) ends at " + hex(ram_end);
  // Machine's layout (README): device windows above RAM.
  if (config.virtio.size() > hv::vmm::kMaxVirtioDevices) {
    return "at most " + std::to_string(hv::vmm::kMaxVirtioDevices) +
           " virtio devices (--blk, --rng, --console, --vhost-user-blk, --vhost-user-rng,"
           " --vhost-user-i2c)";
  }
  if (!config.virtio.empty() && ram_end > hv::vmm::kVirtioBase) {
    return "with virtio devices, RAM must end below " + hex(hv::vmm::kVirtioBase) + ": " + ram;
  }
  if (config.testdev && ram_end > hv::dev::ScratchDevice::kMmioBase) {
    return "with --testdev, RAM must end below " + hex(hv::dev::ScratchDevice::kMmioBase) +
           " (the scratch window): " + ram;
  }
  if (auto why = isa_debug_exit_conflict(config)) return why;
  if (demo) {
    // The demo guest is a one-vCPU long-mode program with its own load address and entry.
    if (real) return "--mode real needs an IMAGE: the demo guest runs in long mode";
    if (config.load_address) return "--load needs an IMAGE: the demo guest has its own load address";
    if (config.entry) return "--entry needs an IMAGE: the demo guest has its own entry";
    if (config.vcpus > 1) return "--vcpus needs an IMAGE: the demo guest runs on one vCPU";
    return std::nullopt;
  }
  if (config.multiboot) return inapplicable_multiboot_option(config, ram);
  // Without INIT/SIPI every vCPU would start at the same IP on the same stack.
  if (real && config.vcpus > 1)
    return "--vcpus " + std::to_string(config.vcpus) + " cannot apply: real mode runs one vCPU";
  std::optional<std::uint64_t> entry = config.entry;
  const char* entry_option = "--entry";
  std::uint64_t highest = 0;  // the image's last byte in guest-physical memory
  if (hv::vmm::looks_like_elf(config.image)) {
    if (config.load_address)
      return "--load cannot apply to an ELF64 IMAGE: its segments load at their physical addresses";
    auto planned = hv::vmm::plan_elf64(config.image);
    if (!planned) return "IMAGE is not a loadable ELF64 executable: " + std::string(planned.error().message());
    if (planned->highest >= ram_end) {
      return "IMAGE's segments (" + hex(planned->lowest) + " to " + hex(planned->highest) +
             ") do not fit in RAM: " + ram;
    }
    highest = planned->highest;
    if (!entry) {
      entry = planned->entry;
      entry_option = "the ELF entry point";
    }
  } else {
    // MachineConfig's documented defaults for raw images.
    const std::uint64_t load = config.load_address.value_or(real ? 0x7c00 : 0x100000);
    if (load >= ram_end || config.image.size() > ram_end - load) {
      return "IMAGE (" + std::to_string(config.image.size()) + " bytes at " + hex(load) +
             ") does not fit in RAM: " + ram;
    }
    highest = load + (config.image.size() - 1);
    if (!entry) {
      entry = load;  // a raw image starts at its first byte
      entry_option = "the entry (the load address)";
    }
  }
  if (entry) {
    if (*entry >= ram_end) return std::string(entry_option) + " " + hex(*entry) + " is outside RAM: " + ram;
    if (real && *entry > 0xffff)
      return std::string(entry_option) + " " + hex(*entry) + " must be below 0x10000 in real mode";
    if (!real && *entry >= kFourGiB) {
      return std::string(entry_option) + " " + hex(*entry) +
             " must be below 4 GiB (long mode maps only the first 4 GiB)";
    }
  }
  if (!real) {
    // Long mode: page tables at the top of RAM below 4 GiB, one stack per vCPU below them (Machine).
    const std::uint64_t top = std::min(ram_end, kFourGiB);
    const std::uint64_t tables = (top - hv::x86::kLongModeTablesSize) & ~(hv::kPageSize - 1);
    const std::uint64_t stacks = std::uint64_t{config.vcpus} * kStackSize;
    if (tables < stacks || highest >= tables - stacks) {
      return "IMAGE (ending at " + hex(highest) + ") overlaps the vCPU stacks and page tables at the top of RAM (" +
             std::to_string(config.vcpus) + " x 64 KiB stacks from " + hex(tables < stacks ? 0 : tables - stacks) +
             "): " + ram;
    }
  }
  return std::nullopt;
}

// Checks the --kernel options and fills config.linux_boot: why they cannot apply (a usage error, found
// before any backend is opened), or nullopt.
std::optional<std::string> linux_boot_options(hv::vmm::MachineConfig& config, const std::string& kernel_path,
                                              const std::string& initrd_path, const std::optional<std::string>& cmdline,
                                              const std::string& image_path) {
  if (!image_path.empty()) return "--kernel boots a kernel instead of an IMAGE: give one or the other";
  if (config.mode == hv::vmm::BootMode::Real) return "--mode real cannot apply to --kernel (the boot protocol decides)";
  if (config.load_address) return "--load cannot apply to --kernel (the kernel's headers place it)";
  if (config.entry) return "--entry cannot apply to --kernel (the kernel's headers give it)";
  std::string error;
  auto kernel = read_image(kernel_path, error, "--kernel");
  if (!kernel) return error;
  hv::vmm::LinuxBoot boot{.kernel = std::move(*kernel), .initrd = {}};
  if (!initrd_path.empty()) {
    auto initrd = read_image(initrd_path, error, "--initrd");
    if (!initrd) return error;
    boot.initrd = std::move(*initrd);
  }
  config.cmdline = cmdline.value_or("");
  auto plan =
      hv::vmm::plan_linux_boot(boot.kernel, boot.initrd.size(), config.cmdline, config.memory_bytes, config.vcpus);
  if (!plan) return "--kernel " + kernel_path + ": " + std::string(plan.error().message());
  // (kLinuxMaxRam keeps RAM below the virtio and --testdev windows.)
  config.linux_boot = std::move(boot);
  return std::nullopt;
}

// The guest's debug-exit value as hvctl's exit status: 0 to 255 pass through; a larger value cannot
// be an exit status and becomes 255, so that no nonzero write (256 modulo 256) ever reads as success.
// QEMU's isa-debug-exit: the process exits with (value << 1) | 1, of which the shell sees the low 8
// bits; always odd, so never a success by accident.
int isa_debug_exit_status(std::uint32_t value) {
  const int status = static_cast<int>(((value << 1) | 1) & 0xff);
  std::fprintf(stderr, "hvctl run: guest wrote %u to isa-debug-exit: exit status %d ((v << 1) | 1, as QEMU)\n", value,
               status);
  return status;
}

int debug_exit_status(std::uint32_t value) {
  if (value <= kMaxGuestStatus) {
    std::fprintf(stderr, "hvctl run: guest wrote %u to debug-exit\n", value);
    return static_cast<int>(value);
  }
  std::fprintf(stderr, "hvctl run: guest wrote %u to debug-exit, above %u: exit status %u\n", value, kMaxGuestStatus,
               kMaxGuestStatus);
  return kMaxGuestStatus;
}

}  // namespace

int run_command(std::span<const std::string_view> args) {
  // Declared first, so that it ends last: the daemons outlive the devices attached to them.
  std::unique_ptr<DeviceSupervisor> supervisor;
  hv::vmm::MachineConfig config;
  std::string backend;
  std::string image_path;
  // By default a guest cannot fill the host's disk (--console-max-bytes / --console-rate, 0 = unlimited).
  hv::dev::OutputLimits limits = hv::dev::kDefaultConsoleLimits;
  std::optional<std::size_t> console_slot;   // position of --console among the virtio devices
  std::chrono::seconds timeout{0};           // none
  std::chrono::milliseconds reconnect{250};  // --vhost-user-reconnect: for the --vhost-user-* after it
  enum class FilterMode : std::uint8_t { Auto, On, Off };
  FilterMode filter_mode = FilterMode::Auto;
  std::vector<LocalDevice> local_devices;  // the --blk and --rng given, for --isolate
  bool isolate = false;
  std::optional<std::string> daemons;     // --isolate-daemons
  std::string kernel_path, initrd_path;   // --kernel, --initrd
  std::vector<std::string> module_paths;  // --module
  std::optional<std::string> cmdline;     // --cmdline
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto number = [&]() -> std::optional<std::uint64_t> {
      auto v = value();
      return v ? parse_number(*v) : std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (a == "--backend") {
      auto v = value();
      if (!v) return usage_error("--backend needs a name");
      backend = *v;
    } else if (a == "--memory") {
      auto v = number();
      if (!v || *v == 0 || *v > (1ULL << 20)) return usage_error("--memory takes MiB between 1 and 1048576");
      config.memory_bytes = *v << 20;
    } else if (a == "--vcpus") {
      auto v = number();
      if (!v || *v == 0 || *v > 256) return usage_error("--vcpus takes 1 to 256");
      config.vcpus = static_cast<std::uint32_t>(*v);
    } else if (a == "--mode") {
      auto v = value();
      if (v == "real")
        config.mode = hv::vmm::BootMode::Real;
      else if (v == "long")
        config.mode = hv::vmm::BootMode::Long;
      else
        return usage_error("--mode takes real or long");
    } else if (a == "--load" || a == "--entry") {
      auto v = number();
      if (!v) return usage_error(std::string(a) + " takes an address (decimal or 0x hex)");
      (a == "--load" ? config.load_address : config.entry) = *v;
    } else if (a == "--timeout") {
      auto v = number();
      if (!v || *v == 0 || *v > kMaxTimeoutSeconds)
        return usage_error("--timeout takes whole seconds from 1 to 31536000");
      timeout = std::chrono::seconds(*v);
    } else if (a == "--multiboot") {
      auto v = value();
      if (!v || v->empty()) return usage_error("--multiboot takes an IMAGE");
      if (!image_path.empty()) return usage_error("--multiboot IMAGE and an IMAGE cannot both be given");
      image_path = *v;
      config.multiboot = true;
    } else if (a == "--module") {
      auto v = value();
      if (!v || v->empty()) return usage_error("--module takes a FILE");
      if (module_paths.size() == hv::vmm::kMaxMultibootModules) return usage_error("at most 16 --module files");
      module_paths.emplace_back(*v);
    } else if (a == "--cmdline") {
      auto v = value();
      if (!v) return usage_error("--cmdline takes the kernel command line (one argument; quote it)");
      cmdline = std::string(*v);
    } else if (a == "--isa-debug-exit") {
      auto v = number();
      if (!v || *v > 0xfffc) return usage_error("--isa-debug-exit takes a port from 0 to 0xfffc (4 ports)");
      config.isa_debug_exit_port = static_cast<std::uint16_t>(*v);
    } else if (a == "--testdev") {
      config.testdev = true;
    } else if (a == "--blk") {
      auto v = value();
      if (!v) return usage_error("--blk takes PATH[,ro|,rw][,serial=ID][,direct=on]");
      auto disk = open_disk(*v);
      if (!disk && !disk.error().usage) {
        std::fprintf(stderr, "hvctl run: %s\n", disk.error().message.c_str());
        return kHypervisorError;
      }
      if (!disk) return usage_error(disk.error().message);
      config.virtio.push_back(disk->device);
      // Only the path and flags are kept: --isolate drops the device (and its lock) for the daemon's.
      local_devices.push_back({config.virtio.size() - 1, "--blk " + std::string(*v), *disk, reconnect});
      local_devices.back().disk->device = nullptr;
    } else if (a == "--vhost-user-reconnect") {
      auto v = number();
      if (!v || *v > kMaxReconnectMs) return usage_error("--vhost-user-reconnect takes milliseconds from 0 to 60000");
      reconnect = std::chrono::milliseconds(*v);
    } else if (a == "--vhost-user-blk" || a == "--vhost-user-rng" || a == "--vhost-user-i2c") {
      auto v = value();
      if (!v) return usage_error(std::string(a) + " takes a SOCKET path");
      auto device = connect_vhost_user(a, *v, reconnect);
      if (!device && !device.error().usage) {
        std::fprintf(stderr, "hvctl run: %s\n", device.error().message.c_str());
        return kHypervisorError;
      }
      if (!device) return usage_error(device.error().message);
      config.virtio.push_back(*device);
    } else if (a == "--rng") {
      config.virtio.push_back(std::make_shared<hv::virtio::RngDevice>());
      local_devices.push_back({config.virtio.size() - 1, "--rng", std::nullopt, reconnect});
    } else if (a == "--isolate") {
      isolate = true;
    } else if (a == "--isolate-daemons") {
      auto v = value();
      if (!v || v->empty()) return usage_error("--isolate-daemons takes a directory");
      daemons = std::string(*v);
    } else if (a == "--console") {
      if (console_slot) return usage_error("--console can be given once");
      console_slot = config.virtio.size();
      config.virtio.push_back(nullptr);  // made below, once the output sink exists
    } else if (a == "--console-max-bytes" || a == "--console-rate") {
      auto v = number();
      if (!v) return usage_error(std::string(a) + " takes a number (0 = unlimited)");
      (a == "--console-max-bytes" ? limits.max_total_bytes : limits.max_bytes_per_second) = *v;
    } else if (a == "--console-filter") {
      auto v = value();
      if (v == "auto")
        filter_mode = FilterMode::Auto;
      else if (v == "on")
        filter_mode = FilterMode::On;
      else if (v == "off")
        filter_mode = FilterMode::Off;
      else
        return usage_error("--console-filter takes auto, on or off");
    } else if (a == "--kernel" || a == "--initrd") {
      auto v = value();
      if (!v || v->empty()) return usage_error(std::string(a) + " takes a PATH");
      (a == "--kernel" ? kernel_path : initrd_path) = *v;
    } else if (!a.empty() && a[0] != '-' && image_path.empty() && !config.multiboot) {
      image_path = a;
    } else {
      return usage_error("unknown option '" + std::string(a) + "'");
    }
  }

  if (!kernel_path.empty()) {
    if (config.multiboot) return usage_error("--kernel and --multiboot cannot both be given: give one or the other");
    if (auto why = linux_boot_options(config, kernel_path, initrd_path, cmdline, image_path)) return usage_error(*why);
  } else if (!initrd_path.empty()) {
    return usage_error("--initrd needs --kernel");
  } else if (cmdline && !config.multiboot) {
    return usage_error("--cmdline needs --kernel or --multiboot");
  }
  const bool demo = image_path.empty() && !config.linux_boot;
  if (!demo && !config.linux_boot) {
    std::string error;
    auto bytes = read_image(image_path, error);
    if (!bytes) return usage_error(error);
    config.image = std::move(*bytes);
  }
  if (!config.multiboot && !module_paths.empty()) return usage_error("--module needs --multiboot");
  if (config.multiboot) {
    // The kernel's command line starts with its own name, as GRUB's and QEMU's do.
    config.cmdline = image_path + (cmdline && !cmdline->empty() ? " " + *cmdline : "");
    if (config.cmdline.size() > hv::vmm::kMaxMultibootCmdline) {
      return usage_error("--multiboot IMAGE and --cmdline together take at most 4096 bytes");
    }
    if (config.cmdline.find('\0') != std::string::npos) return usage_error("--cmdline cannot contain a NUL byte");
    std::uint64_t module_bytes = 0;
    for (const auto& path : module_paths) {
      std::string error;
      auto bytes = read_image(path, error);
      if (!bytes) return usage_error("--module: " + error);
      module_bytes += bytes->size();
      if (module_bytes > kMaxModuleBytes) return usage_error("--module files take more than 1 GiB together");
      config.multiboot_modules.push_back({std::move(*bytes), path});
    }
    // The other vCPUs wait in the kernel's LAPIC for the guest's INIT/SIPI; the PIC (masked by most
    // test kernels through ports 0x21/0xa1) is the kernel's too.
    config.in_kernel_irqchip = true;
  }
  if (!config.linux_boot) {
    if (auto why = inapplicable_option(config, demo)) return usage_error(*why);
  }
  if (daemons && !isolate) return usage_error("--isolate-daemons needs --isolate");
  if (isolate) {
    if (local_devices.empty()) return usage_error("--isolate needs a --blk or --rng to run out of process");
    std::vector<IsolatedDevice> devices;
    for (const auto& local : local_devices) devices.push_back(isolated_device(local));
    const std::string directory = daemons ? *daemons : own_directory();
    supervisor = std::make_unique<DeviceSupervisor>();
    for (std::size_t n = 0; n < devices.size(); ++n) {
      const auto slot = local_devices[n].slot;
      config.virtio[slot] = nullptr;  // hvctl's own device unlocks the disk for the daemon
      auto device = start_isolated(*supervisor, devices[n], directory, local_devices[n].reconnect);
      if (!device && !device.error().usage) {
        std::fprintf(stderr, "hvctl run: %s\n", device.error().message.c_str());
        return kHypervisorError;
      }
      if (!device) return usage_error(device.error().message);
      config.virtio[slot] = *device;
    }
  }
  if (demo) {
    const auto image = demo_guest();
    config.image.assign(image.begin(), image.end());
    config.load_address = 0x1000;
  }

  // From here on SIGINT and SIGTERM wait for the watcher, which stops the machine cleanly; every
  // thread started below (backends, vCPUs, stdin) inherits the blocked mask.
  const sigset_t stop_signals = block_stop_signals();
  auto hypervisor = backend.empty() ? hv::open_default_hypervisor() : hv::open_hypervisor(backend);
  if (!hypervisor) {
    // A backend name that does not exist is the caller's mistake, as in every subcommand; a known
    // backend this host cannot open is a hypervisor error.
    if (hypervisor.error().kind() == hv::ErrorKind::NotFound) return usage_error(hypervisor.error().to_string());
    std::fprintf(stderr, "hvctl run: %s\n", hypervisor.error().to_string().c_str());
    return kHypervisorError;
  }
  // A closed stdout pipe must cost the guest its output, not kill hvctl.
  ::signal(SIGPIPE, SIG_IGN);
  // Shared by the UART and the virtio console, which keep them for as long as they exist. Guest output
  // reaches a terminal only through the filter (one filter for the UART and the virtio console: it
  // sees the bytes in the order the terminal does).
  auto stdout_sink = std::make_shared<hv::dev::FdSink>(STDOUT_FILENO);
  auto filtered = std::make_shared<TerminalFilterSink>(stdout_sink);
  const bool filter =
      filter_mode == FilterMode::On || (filter_mode == FilterMode::Auto && ::isatty(STDOUT_FILENO) == 1);
  auto console =
      std::make_shared<hv::dev::LimitedSink>(filter ? std::static_pointer_cast<hv::dev::ByteSink>(filtered)
                                                    : std::static_pointer_cast<hv::dev::ByteSink>(stdout_sink),
                                             limits);
  config.console = console;
  if (config.linux_boot) {
    // Linux needs interrupts (UART on IRQ 4, the timer): the in-kernel irqchip always, and the PIT where
    // the backend has one. MSHV has none; the kernel then calibrates and ticks with the LAPIC timer.
    config.in_kernel_irqchip = true;
    config.in_kernel_pit = (*hypervisor)->capability(hv::Capability::InKernelPit).has_value();
    if (!config.in_kernel_pit) {
      std::fprintf(stderr,
                   "hvctl run: note: this backend has no in-kernel PIT (nor PIC or IOAPIC); a Linux guest must use "
                   "the LAPIC timer (docs/linux-boot.md)\n");
    }
  }
  std::shared_ptr<hv::virtio::ConsoleDevice> virtio_console;
  if (console_slot) {
    // The virtio console shares the UART's output limits and takes the host's input instead of it.
    virtio_console = std::make_shared<hv::virtio::ConsoleDevice>(console);
    config.virtio[*console_slot] = virtio_console;
  }
  // The command line was checked above (inapplicable_option): whatever fails from here on is the
  // hypervisor's or the host's, a kernel EINVAL included, never a usage error.
  auto machine = hv::vmm::Machine::create(**hypervisor, std::move(config));
  if (!machine) {
    std::fprintf(stderr, "hvctl run: %s\n", machine.error().to_string().c_str());
    return kHypervisorError;
  }
  auto watcher = StopWatcher::start(stop_signals, timeout, [&m = **machine](int status, std::string message) {
    m.request_stop({hv::vmm::MachineExit::Reason::Stopped, static_cast<std::uint32_t>(status), std::move(message)});
  });
  if (!watcher) {
    std::fprintf(stderr, "hvctl run: %s\n", watcher.error().c_str());
    return kHypervisorError;
  }
  std::atomic<bool> stop{false};
  std::thread input;
  try {
    input = std::thread([&] {
      if (virtio_console) {
        pump_stdin([&](std::span<const std::uint8_t> bytes) { return virtio_console->enqueue_input(bytes); }, stop);
      } else {
        pump_stdin([&](std::span<const std::uint8_t> bytes) { return (*machine)->uart().enqueue_input(bytes); }, stop);
      }
    });
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "hvctl run: cannot start the input thread: %s\n", e.what());
    return kHypervisorError;
  }
  const auto exit = (*machine)->run();
  watcher->reset();
  stop = true;
  input.join();
  if (console->dropped() > 0) {
    std::fprintf(stderr,
                 "hvctl run: console limit reached, %llu bytes of guest output dropped (--console-max-bytes %llu, "
                 "--console-rate %llu; 0 = unlimited)\n",
                 static_cast<unsigned long long>(console->dropped()),
                 static_cast<unsigned long long>(limits.max_total_bytes),
                 static_cast<unsigned long long>(limits.max_bytes_per_second));
  }
  if (filtered->dropped() > 0) {
    std::fprintf(stderr,
                 "hvctl run: %llu bytes of terminal control sequences and malformed UTF-8 dropped from guest output "
                 "(--console-filter off passes them)\n",
                 static_cast<unsigned long long>(filtered->dropped()));
  }
  if (stdout_sink->dropped() > 0) {
    std::fprintf(stderr, "hvctl run: stdout was not writable, %llu bytes of guest output dropped\n",
                 static_cast<unsigned long long>(stdout_sink->dropped()));
  }
  using Reason = hv::vmm::MachineExit::Reason;
  switch (exit.reason) {
    case Reason::DebugExit: return debug_exit_status(exit.status);
    case Reason::IsaDebugExit: return isa_debug_exit_status(exit.status);
    case Reason::Halted: return 0;
    case Reason::Shutdown:
    case Reason::Reset: std::fprintf(stderr, "hvctl run: %s\n", exit.message.c_str()); return kGuestFailed;
    case Reason::Stopped:  // hvctl's own request: the status and message are ours
      std::fprintf(stderr, "hvctl run: %s\n", exit.message.c_str());
      return static_cast<int>(exit.status);
    case Reason::Error: break;
  }
  std::fprintf(stderr, "hvctl run: %s\n", exit.message.c_str());
  return kHypervisorError;
}

}  // namespace hvctl
