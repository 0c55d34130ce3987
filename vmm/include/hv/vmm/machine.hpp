#pragma once
// A small example VMM: guest RAM, the legacy devices, one thread per vCPU, exit dispatch to the buses,
// and an orderly stop. It is the same code on every backend; read it as the template for your own
// run loop.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hv/dev/byte_sink.hpp"
#include "hv/dev/device_manager.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/dev/serial_16550.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"
#include "hv/event_fd.hpp"
#include "hv/virtio/device.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/vmm/linux_loader.hpp"

namespace hv::vmm {

enum class BootMode : std::uint8_t { Real, Long };

struct MachineConfig {
  std::uint64_t memory_bytes = 64ULL << 20;
  std::uint32_t vcpus = 1;
  BootMode mode = BootMode::Long;
  std::vector<std::uint8_t> image;  // raw binary or ELF64
  // The kernel's command line: with `linux_boot`, the Linux command line; with `multiboot`, the whole
  // string the kernel receives (by convention "IMAGE ARGS", which hvctl builds).
  std::string cmdline;
  // Boots a Linux kernel instead of `image` (which must then be empty): PVH vmlinux or bzImage,
  // with an optional initrd, `cmdline` and an MP table (hv/vmm/linux_loader.hpp). Only vCPU 0 is
  // entered; more than one vCPU needs in_kernel_irqchip, whose APs wait for INIT/SIPI.
  std::optional<LinuxBoot> linux_boot;
  std::optional<std::uint64_t> load_address;  // raw images; default 0x7c00 (real) or 0x100000 (long)
  std::optional<std::uint64_t> entry;         // default: the load address or ELF e_entry
  bool testdev = false;                       // scratch MMIO at 0xd8000000 and PIO at 0xe0
  // `image` is a Multiboot (version 1) kernel, an ELF32 executable (hv/vmm/multiboot_loader.hpp):
  // vCPU 0 enters it in 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the information
  // block; `mode`, `load_address` and `entry` do not apply. With more than one vCPU it needs
  // in_kernel_irqchip: the others wait for the guest's INIT/SIPI.
  bool multiboot = false;
  struct MultibootModuleFile {
    std::vector<std::uint8_t> bytes;
    std::string cmdline;  // the module's string in the information block
  };
  std::vector<MultibootModuleFile> multiboot_modules;  // at most kMaxMultibootModules, in this order
  // QEMU's isa-debug-exit at this port (4 bytes): a write of v ends the machine with
  // Reason::IsaDebugExit and status v (QEMU then exits with (v << 1) | 1). The debug-exit at 0x501 stays.
  std::optional<std::uint16_t> isa_debug_exit_port;
  // UART interrupts through IRQ 4. HLT then waits in the kernel (the machine no longer ends when all
  // vCPUs halt) and vCPUs other than 0 wait for INIT/SIPI, which this machine does not send.
  bool in_kernel_irqchip = false;
  bool in_kernel_pit = false;              // the i8254 PIT in the kernel (needs in_kernel_irqchip; KVM only)
  std::shared_ptr<dev::ByteSink> console;  // UART output; required (the UART shares it)
  // virtio-mmio devices, in this order at kVirtioBase + kVirtioStride * n; each has its own
  // interrupt line (GSI kVirtioFirstGsi + n with in_kernel_irqchip, unconnected otherwise: poll).
  std::vector<std::shared_ptr<virtio::VirtioDevice>> virtio;
};

inline constexpr std::uint64_t kVirtioBase = 0xd0000000;
inline constexpr std::uint64_t kVirtioStride = 0x1000;
inline constexpr std::uint32_t kVirtioFirstGsi = 16;
inline constexpr std::size_t kMaxVirtioDevices = 8;
// The UART's output is line-buffered (hv::dev::TransmitBuffering::LineBuffered): the console gets it
// at each newline, every 256 bytes, at the latest this long after the guest wrote it (a prompt
// without a newline, a guest that then waits), and when run() returns.
inline constexpr std::chrono::milliseconds kConsoleFlushInterval{10};

// How the guest ended. Stopped: the VMM ended it from outside the guest through request_stop (a
// timeout, a signal; the Machine never stops itself for that reason); its status and message are
// whatever the requester chose.
struct MachineExit {
  enum class Reason : std::uint8_t { DebugExit, IsaDebugExit, Halted, Shutdown, Reset, Error, Stopped };
  Reason reason = Reason::Error;
  std::uint32_t status = 0;  // the (isa-)debug-exit value; 0 when halted; the requester's for Stopped
  std::string message;
};

class Machine {
 public:
  static Result<std::unique_ptr<Machine>> create(Hypervisor& hypervisor, const MachineConfig& config);
  // run() must have returned before the Machine is destroyed.
  ~Machine();
  Machine(const Machine&) = delete;  // vCPU threads and devices hold its address
  Machine& operator=(const Machine&) = delete;

  // Runs every vCPU in its own thread until the guest writes the debug-exit port, all vCPUs halt, the
  // guest shuts down, triple-faults or asks for a reset, an error occurs, or request_stop is called
  // (also before run(): it then returns at once).
  MachineExit run();
  // Asks the machine to stop with `exit` (first request wins); safe from any thread, including devices.
  void request_stop(MachineExit exit);

  dev::Serial16550& uart() { return *uart_; }
  // Guest RAM as the machine's devices see it: the Vm's memory().
  const GuestMemory& memory() const { return *vm_->memory(); }
  const dev::DeviceManager& devices() const { return *devices_; }
  // Queue notifications served through ioeventfds (0 where the backend has none: they exit instead).
  [[nodiscard]] std::size_t virtio_doorbells() const noexcept { return doorbells_.size(); }

 private:
  Machine() = default;
  Result<void> load_and_enter(const MachineConfig& config);
  Result<void> load_linux_kernel(const MachineConfig& config);
  Result<void> load_and_enter_multiboot(const MachineConfig& config);
  Result<void> add_devices(const MachineConfig& config);
  void vcpu_loop(std::size_t index);
  Result<void> add_virtio_doorbells(std::size_t device, const std::shared_ptr<virtio::MmioTransport>& transport,
                                    std::uint16_t queues);
  void serve_doorbells();
  void flush_console();

  // Destruction order among the members below does not matter for the devices: nothing here holds
  // a reference into another member. Each device shares what it uses — the UART its console and
  // line, a VmInterruptLine the Vm, a virtio transport the guest memory (the Vm's memory()), its device and its line,
  // an active virtio device the memory again — and the callbacks that point back at this Machine
  // (the i8042's reset, debug-exit) run only inside run(), which has returned before the Machine is
  // destroyed. A transport resets its device when it goes, so a virtio device the caller still holds
  // keeps nothing of the Machine. (vcpus_ go before vm_ because they are declared after it, as
  // hv/hypervisor.hpp asks of a VMM.)
  std::shared_ptr<Vm> vm_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  // Queue notifications that the hypervisor turns into eventfd signals (ioeventfd) instead of exits:
  // a thread of run() waits on them and hands each to its transport.
  struct Doorbell {
    EventFd event;
    std::shared_ptr<virtio::MmioTransport> transport;
    std::uint16_t queue = 0;
  };
  std::vector<Doorbell> doorbells_;
  // Built over the Vm's memory() once RAM is mapped: it refuses MMIO devices over guest RAM.
  std::unique_ptr<dev::DeviceManager> devices_;
  std::shared_ptr<dev::Serial16550> uart_;
  std::atomic<bool> stopping_{false};
  std::mutex exit_mutex_;
  std::condition_variable stop_requested_;  // with exit_mutex_: wakes the console flusher at once
  MachineExit exit_;
  std::atomic<std::uint32_t> running_vcpus_{0};
};

}  // namespace hv::vmm
