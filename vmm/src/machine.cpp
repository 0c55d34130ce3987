#include "hv/vmm/machine.hpp"

#include <poll.h>

#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "hv/dev/cmos_rtc.hpp"
#include "hv/dev/debug_exit.hpp"
#include "hv/dev/i8042.hpp"
#include "hv/dev/scratch_device.hpp"
#include "hv/virtio/mmio_transport.hpp"
#include "hv/vmm/image_loader.hpp"
#include "hv/vmm/multiboot_loader.hpp"
#include "hv/x86_boot.hpp"

namespace hv::vmm {

namespace {
constexpr std::uint64_t kUartBase = 0x3f8;
constexpr std::uint32_t kUartGsi = 4;
constexpr std::uint64_t kFourGiB = 4ULL << 30;
constexpr std::uint64_t kRealModeStack = 0x7000;
constexpr std::uint64_t kStackSize = 0x10000;  // per vCPU in long mode

// What the hypervisor said when it could not run the guest: its name for the error and the code, the
// guest's RIP, the instruction bytes and data words it gave ("KVM_INTERNAL_ERROR_EMULATION (code 0x1)
// at RIP 0x1005, instruction bytes 0f 01 ca, data 0x1 0x...").
std::string describe(Vcpu& vcpu, const InternalErrorExit& error) {
  std::string text = "the hypervisor could not run the guest: ";
  text += error.name.empty() ? std::string_view("internal error") : error.name;
  text += " (code " + hex(error.code);
  if (error.detail != 0) text += ", detail " + hex(error.detail);
  text += ")";
  // The spans are valid until the next call on the vCPU: read them before get_registers.
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string bytes, words;
  for (const std::uint8_t b : error.instruction) {
    if (!bytes.empty()) bytes += ' ';
    bytes += kDigits[b >> 4];
    bytes += kDigits[b & 0xf];
  }
  for (const std::uint64_t w : error.data) words += (words.empty() ? "" : " ") + hex(w);
  if (auto regs = vcpu.get_registers()) {
    text += " at RIP " + hex(regs->rip);
  } else {
    text += " (RIP unreadable: " + regs.error().to_string() + ")";
  }
  if (!bytes.empty()) text += ", instruction bytes " + bytes;
  if (!words.empty()) text += ", data " + words;
  return text;
}
}  // namespace

Result<std::unique_ptr<Machine>> Machine::create(Hypervisor& hypervisor, const MachineConfig& config) {
  constexpr const char* op = "Machine::create";
  if (config.console == nullptr) return fail(ErrorKind::InvalidArgument, op, "a console sink is required");
  if (config.vcpus == 0) return fail(ErrorKind::InvalidArgument, op, "at least one vCPU");
  if (config.memory_bytes < (1ULL << 20) || config.memory_bytes % kPageSize != 0) {
    return fail(ErrorKind::InvalidArgument, op, "memory must be at least 1 MiB and page-aligned");
  }
  std::unique_ptr<Machine> m(new Machine());
  auto vm =
      hypervisor.create_vm({.in_kernel_irqchip = config.in_kernel_irqchip, .in_kernel_pit = config.in_kernel_pit});
  if (!vm) return tl::unexpected(vm.error());
  m->vm_ = std::move(*vm);
  auto ram = GuestRegion::create(0, config.memory_bytes, Backing::Memfd);
  if (!ram) return tl::unexpected(ram.error());
  // Read-write for the guest and for devices alike: devices use the Vm's memory(), which the Vm keeps
  // in step with what it maps.
  if (auto r = m->vm_->map_memory(*ram); !r) return tl::unexpected(r.error());
  m->devices_ = std::make_unique<dev::DeviceManager>(m->vm_->memory());
  for (std::uint32_t i = 0; i < config.vcpus; ++i) {
    auto vcpu = m->vm_->create_vcpu(i);
    if (!vcpu) return tl::unexpected(vcpu.error());
    m->vcpus_.push_back(std::move(*vcpu));
  }
  if (auto r = m->add_devices(config); !r) return tl::unexpected(r.error());
  if (auto r = m->load_and_enter(config); !r) return tl::unexpected(r.error());
  return m;
}

Machine::~Machine() { request_stop({MachineExit::Reason::Error, 1, "machine destroyed"}); }

Result<void> Machine::add_devices(const MachineConfig& config) {
  // Each device shares its interrupt line, and a VmInterruptLine shares the Vm.
  std::shared_ptr<dev::InterruptLine> uart_irq;
  if (config.in_kernel_irqchip) {
    uart_irq = std::make_shared<dev::VmInterruptLine>(vm_, kUartGsi);
  } else {
    uart_irq = std::make_shared<dev::NullInterruptLine>();
  }
  // Line-buffered: one console write per line instead of one per byte (for hvctl a poll and a write
  // system call each); run() hands the rest on every kConsoleFlushInterval and when it returns.
  uart_ = std::make_shared<dev::Serial16550>(config.console, std::move(uart_irq), dev::TransmitBuffering::LineBuffered);
  if (auto r = devices_->add_pio(uart_, kUartBase, dev::Serial16550::kRegisterCount); !r) return r;
  auto reset = [this] { request_stop({MachineExit::Reason::Reset, 0, "the guest asked for a reset (i8042)"}); };
  if (auto r = devices_->add_pio(std::make_shared<dev::I8042>(reset, std::make_shared<dev::NullInterruptLine>()),
                                 dev::I8042::kBase, dev::I8042::kSize);
      !r) {
    return r;
  }
  if (auto r = devices_->add_pio(std::make_shared<dev::CmosRtc>(), dev::CmosRtc::kBase, dev::CmosRtc::kSize); !r)
    return r;
  auto on_exit = [this](std::uint32_t status) {
    request_stop({MachineExit::Reason::DebugExit, status, "debug-exit " + std::to_string(status)});
  };
  if (auto r = devices_->add_pio(std::make_shared<dev::DebugExit>(on_exit), dev::DebugExit::kDefaultPort,
                                 dev::DebugExit::kSize);
      !r) {
    return r;
  }
  if (config.isa_debug_exit_port) {
    auto on_isa_exit = [this](std::uint32_t value) {
      request_stop({MachineExit::Reason::IsaDebugExit, value, "isa-debug-exit " + std::to_string(value)});
    };
    if (auto r = devices_->add_pio(std::make_shared<dev::DebugExit>(on_isa_exit), *config.isa_debug_exit_port,
                                   dev::DebugExit::kSize);
        !r) {
      return fail(r.error().kind(), "Machine::create",
                  "isa-debug-exit at " + hex(*config.isa_debug_exit_port) + ": " + r.error().to_string());
    }
  }
  if (!config.virtio.empty()) {
    if (config.virtio.size() > kMaxVirtioDevices) {
      return fail(ErrorKind::InvalidArgument, "Machine::create", "at most 8 virtio devices");
    }
    if (config.memory_bytes > kVirtioBase) {
      return fail(ErrorKind::InvalidArgument, "Machine::create", "with virtio devices, RAM must end below 0xd0000000");
    }
    for (std::size_t n = 0; n < config.virtio.size(); ++n) {
      std::shared_ptr<dev::InterruptLine> irq;
      if (config.in_kernel_irqchip) {
        irq = std::make_shared<dev::VmInterruptLine>(vm_, kVirtioFirstGsi + static_cast<std::uint32_t>(n));
      } else {
        irq = std::make_shared<dev::NullInterruptLine>();
      }
      auto transport = std::make_shared<virtio::MmioTransport>(vm_->memory(), config.virtio[n], std::move(irq));
      if (auto r = devices_->add_mmio(transport, kVirtioBase + kVirtioStride * n, kVirtioStride); !r) return r;
      if (auto r = add_virtio_doorbells(n, transport, config.virtio[n]->queue_count()); !r) return r;
    }
  }
  if (config.testdev) {
    using dev::ScratchDevice;
    if (config.memory_bytes > ScratchDevice::kMmioBase) {
      return fail(ErrorKind::InvalidArgument, "Machine::create",
                  "with --testdev, RAM must end below 0xd8000000 (the scratch window)");
    }
    if (auto r = devices_->add_mmio(std::make_shared<ScratchDevice>(ScratchDevice::kMmioSize), ScratchDevice::kMmioBase,
                                    ScratchDevice::kMmioSize);
        !r) {
      return r;
    }
    if (auto r = devices_->add_pio(std::make_shared<ScratchDevice>(ScratchDevice::kPioSize), ScratchDevice::kPioBase,
                                   ScratchDevice::kPioSize);
        !r) {
      return r;
    }
  }
  return {};
}

Result<void> Machine::load_and_enter(const MachineConfig& config) {
  constexpr const char* op = "Machine::load";
  if (config.linux_boot) return load_linux_kernel(config);
  if (config.image.empty()) return fail(ErrorKind::InvalidArgument, op, "no guest image");
  if (config.multiboot) return load_and_enter_multiboot(config);
  const bool real = config.mode == BootMode::Real;
  Result<LoadedImage> loaded =
      looks_like_elf(config.image)
          ? load_elf64(memory(), config.image)
          : load_raw(memory(), config.image, config.load_address.value_or(real ? 0x7c00 : 0x100000));
  if (!loaded) return tl::unexpected(loaded.error());
  const std::uint64_t entry = config.entry.value_or(loaded->entry);
  if (real) {
    if (entry > 0xffff) return fail(ErrorKind::OutOfRange, op, "real-mode entry must be below 64 KiB");
    // Without INIT/SIPI emulation every vCPU would start at the same IP on the same stack.
    if (vcpus_.size() > 1) return fail(ErrorKind::InvalidArgument, op, "real mode supports one vCPU");
    for (auto& vcpu : vcpus_) {
      if (auto r = x86::enter_real_mode(*vcpu, static_cast<std::uint16_t>(entry), kRealModeStack); !r) return r;
    }
    return {};
  }
  // Page tables at the top of RAM below 4 GiB; below them one 64 KiB stack per vCPU. The image must
  // end below the lowest stack.
  const std::uint64_t top = std::min(config.memory_bytes, kFourGiB);
  const std::uint64_t tables = (top - x86::kLongModeTablesSize) & ~(kPageSize - 1);
  const std::uint64_t stacks = std::uint64_t{vcpus_.size()} * kStackSize;
  if (tables < stacks || loaded->highest >= tables - stacks) {
    return fail(ErrorKind::OutOfRange, op, "the image overlaps the vCPU stacks and page tables at the top of RAM");
  }
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    if (auto r = x86::enter_long_mode(memory(), *vcpus_[i], tables, entry, tables - i * kStackSize); !r) return r;
  }
  return {};
}

// Only vCPU 0 is entered: the others, with the in-kernel irqchip, wait for the INIT/SIPI the kernel
// sends them; without it they would run from the reset state, so a Linux guest gets one vCPU.
Result<void> Machine::load_linux_kernel(const MachineConfig& config) {
  constexpr const char* op = "Machine::load";
  if (!config.image.empty()) return fail(ErrorKind::InvalidArgument, op, "linux_boot and an image cannot be combined");
  if (vcpus_.size() > 1 && !config.in_kernel_irqchip) {
    return fail(ErrorKind::InvalidArgument, op,
                "a Linux guest with more than one vCPU needs in_kernel_irqchip (its APs wait for INIT/SIPI)");
  }
  auto entry = load_linux(memory(), *config.linux_boot, config.cmdline, config.memory_bytes,
                          static_cast<std::uint32_t>(vcpus_.size()));
  if (!entry) return tl::unexpected(entry.error());
  return enter_linux(memory(), *vcpus_[0], *entry);
}

Result<void> Machine::load_and_enter_multiboot(const MachineConfig& config) {
  constexpr const char* op = "Machine::load";
  if (config.load_address || config.entry || config.mode != BootMode::Long) {
    return fail(ErrorKind::InvalidArgument, op, "a Multiboot kernel has its own load addresses, entry and mode");
  }
  // Without the in-kernel LAPIC nothing would hold the other vCPUs until the guest's INIT/SIPI.
  if (vcpus_.size() > 1 && !config.in_kernel_irqchip) {
    return fail(ErrorKind::InvalidArgument, op, "a Multiboot kernel on more than one vCPU needs in_kernel_irqchip");
  }
  if (config.multiboot_modules.size() > kMaxMultibootModules) {
    return fail(ErrorKind::InvalidArgument, op, "at most 16 Multiboot modules");
  }
  std::vector<MultibootModule> modules;
  for (const auto& module : config.multiboot_modules) modules.push_back({module.bytes, module.cmdline});
  auto boot = load_multiboot(memory(), config.memory_bytes, config.image, config.cmdline, modules);
  if (!boot) return tl::unexpected(boot.error());
  GeneralRegisters registers;
  registers.rax = kMultibootBootloaderMagic;
  registers.rbx = boot->info;
  // Only the bootstrap processor enters the kernel; the others keep the state the hypervisor gave them
  // (with the in-kernel LAPIC: waiting for INIT/SIPI).
  return x86::enter_protected_mode(memory(), *vcpus_[0], kMultibootGdt, static_cast<std::uint32_t>(boot->image.entry),
                                   registers);
}

void Machine::request_stop(MachineExit exit) {
  {
    std::lock_guard lock(exit_mutex_);
    if (stopping_.exchange(true)) return;  // the first reason to stop is the one reported
    exit_ = std::move(exit);
  }
  stop_requested_.notify_all();
  for (auto& vcpu : vcpus_) vcpu->kick();
}

void Machine::vcpu_loop(std::size_t index) {
  Vcpu& vcpu = *vcpus_[index];
  while (!stopping_.load(std::memory_order_acquire)) {
    auto exit = vcpu.run(*devices_);  // device accesses are completed inside, through the DeviceManager
    if (!exit) {
      request_stop({MachineExit::Reason::Error, 1, exit.error().to_string()});
      break;
    }
    if (std::holds_alternative<InterruptedExit>(*exit)) continue;
    if (std::holds_alternative<HaltExit>(*exit)) {
      // This vCPU is done; the machine ends when the last one halts.
      if (running_vcpus_.fetch_sub(1) == 1) request_stop({MachineExit::Reason::Halted, 0, "all vCPUs halted"});
      return;
    }
    if (std::holds_alternative<ShutdownExit>(*exit)) {
      request_stop({MachineExit::Reason::Shutdown, 0, "vCPU " + std::to_string(index) + ": shutdown (triple fault)"});
    } else if (const auto* event = std::get_if<SystemEventExit>(&*exit)) {
      const bool reset = event->kind == SystemEventKind::Reset;
      request_stop({reset ? MachineExit::Reason::Reset : MachineExit::Reason::Shutdown, 0,
                    std::string("system event: ") + (reset ? "reset" : "shutdown")});
    } else if (const auto* internal = std::get_if<InternalErrorExit>(&*exit)) {
      request_stop({MachineExit::Reason::Error, 1, "vCPU " + std::to_string(index) + ": " + describe(vcpu, *internal)});
    } else {
      std::string what = "vCPU " + std::to_string(index) + ": unexpected exit " + std::string(exit_name(*exit));
      if (const auto* unknown = std::get_if<UnknownExit>(&*exit)) {
        what += " (" + std::string(unknown->backend) + " exit reason " + hex(unknown->raw_reason) + ")";
      }
      request_stop({MachineExit::Reason::Error, 1, what});
    }
    break;
  }
}

// Where the backend has MMIO ioeventfds, each queue's notification (a 4-byte write of the queue index
// to QueueNotify) signals an eventfd in the kernel instead of exiting to this process. Without them,
// the write exits and reaches the transport through the MMIO bus as any register does.
Result<void> Machine::add_virtio_doorbells(std::size_t device, const std::shared_ptr<virtio::MmioTransport>& transport,
                                           std::uint16_t queues) {
  for (std::uint16_t q = 0; q < queues; ++q) {
    auto event = EventFd::create();
    if (!event) return tl::unexpected(event.error());
    const IoEventAddress where{IoEventSpace::Mmio,
                               kVirtioBase + kVirtioStride * device + virtio::MmioTransport::notify_offset(), 4,
                               std::uint64_t{q}};
    if (auto r = vm_->register_ioeventfd(*event, where); !r) {
      if (r.error().kind() == ErrorKind::Unsupported) return {};  // notifications exit instead
      return r;
    }
    doorbells_.push_back({std::move(*event), transport, q});
  }
  return {};
}

// Runs while the vCPUs do: hands every rung doorbell to its transport, polling so that it notices
// the machine stopping within 50 ms.
void Machine::serve_doorbells() {
  std::vector<pollfd> fds;
  for (const auto& d : doorbells_) fds.push_back({.fd = d.event.fd(), .events = POLLIN, .revents = 0});
  while (!stopping_.load()) {
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      if (doorbells_[i].event.consume()) doorbells_[i].transport->notify(doorbells_[i].queue);
    }
  }
}

// Runs while the vCPUs do: hands the UART's buffered output to the console every
// kConsoleFlushInterval, so that output without a newline (a prompt, then the guest waits for input,
// halted or polling) still appears.
void Machine::flush_console() {
  std::unique_lock lock(exit_mutex_);
  while (!stop_requested_.wait_for(lock, kConsoleFlushInterval, [this] { return stopping_.load(); })) {
    lock.unlock();
    uart_->flush_output();
    lock.lock();
  }
}

MachineExit Machine::run() {
  running_vcpus_ = static_cast<std::uint32_t>(vcpus_.size());
  {
    std::vector<std::jthread> threads;
    if (!doorbells_.empty()) {
      try {
        threads.emplace_back([this] { serve_doorbells(); });
      } catch (const std::system_error& e) {
        request_stop({MachineExit::Reason::Error, 1, std::string("cannot start the doorbell thread: ") + e.what()});
      }
    }
    for (std::size_t i = 0; i < vcpus_.size(); ++i) {
      try {
        threads.emplace_back([this, i] { vcpu_loop(i); });
      } catch (const std::system_error& e) {
        // Stop the vCPUs already started, or joining them below would wait forever.
        request_stop(
            {MachineExit::Reason::Error, 1, "cannot start the thread of vCPU " + std::to_string(i) + ": " + e.what()});
        break;
      }
    }
    // Started after the vCPUs: a byte they write before it runs waits only until its first flush.
    try {
      threads.emplace_back([this] { flush_console(); });
    } catch (const std::system_error& e) {
      request_stop({MachineExit::Reason::Error, 1, std::string("cannot start the console flusher: ") + e.what()});
    }
  }  // jthreads join here
  // What the guest wrote last reaches the console before the caller reports how the guest ended.
  uart_->flush_output();
  std::lock_guard lock(exit_mutex_);
  return exit_;
}

}  // namespace hv::vmm
