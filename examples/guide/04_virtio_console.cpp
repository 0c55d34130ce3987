// docs/guide.md, "Virtio devices": a virtio-console behind the virtio-mmio transport on the MMIO bus,
// driven by a 64-bit guest driver (04_virtio_guest.S) that sends one line through it.
// Usage: guide_04_virtio_console [BACKEND]
// Exit status: 0 when the guest's line came out of the console device and the driver reported
// success; 77 when BACKEND is not available here; 1 otherwise.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include <hv/dev/byte_sink.hpp>
#include <hv/dev/debug_exit.hpp>
#include <hv/dev/device_manager.hpp>
#include <hv/dev/interrupt_line.hpp>
#include <hv/virtio/console.hpp>
#include <hv/virtio/mmio_transport.hpp>
#include <hv/x86_boot.hpp>

#include "example.hpp"

// The guest's code, assembled from 04_virtio_guest.S into this program.
extern "C" const std::uint8_t guide_virtio_guest[], guide_virtio_guest_end[];

using guide::expect;
using guide::must;

int main(int argc, char** argv) {
  constexpr std::uint64_t kRamSize = 2 << 20;
  constexpr std::uint64_t kCode = 0x1000;
  constexpr std::uint64_t kTables = kRamSize - hv::x86::kLongModeTablesSize;  // page tables at the top of RAM

  auto hypervisor = guide::open_backend(argc, argv);
  auto vm = must(hypervisor->create_vm(), "create_vm");
  auto ram = must(hv::GuestRegion::create(0, kRamSize), "create RAM");
  must(vm->map_memory(ram), "map RAM");
  const std::span<const std::uint8_t> driver(guide_virtio_guest, guide_virtio_guest_end);
  std::copy(driver.begin(), driver.end(), ram->host().begin() + kCode);
  auto vcpu = must(vm->create_vcpu(0), "create_vcpu");
  // Long mode with the first 4 GiB identity-mapped, so the driver reaches RAM and the device window.
  must(hv::x86::enter_long_mode(*vm->memory(), *vcpu, kTables, kCode, kTables), "enter long mode");

  // [guide:virtio_device]
  hv::dev::DeviceManager devices;
  auto console_output = std::make_shared<hv::dev::BufferSink>();
  auto no_irq = std::make_shared<hv::dev::NullInterruptLine>();  // the driver polls the used ring
  auto console = std::make_shared<hv::virtio::ConsoleDevice>(console_output);
  // The transport reaches the driver's rings through the Vm's memory(), the one view of guest RAM.
  auto transport = std::make_shared<hv::virtio::MmioTransport>(vm->memory(), console, no_irq);
  must(devices.add_mmio(transport, 0xd0000000, hv::virtio::kMmioWindowSize), "add the virtio-mmio window");
  // [/guide:virtio_device]
  std::atomic<std::uint32_t> driver_result = 0xffffffff;
  must(devices.add_pio(std::make_shared<hv::dev::DebugExit>([&](std::uint32_t value) { driver_result = value; }),
                       hv::dev::DebugExit::kDefaultPort, hv::dev::DebugExit::kSize),
       "add debug-exit");

  const hv::Exit exit = must(vcpu->run(devices), "run");  // every register access and the notify happen in here
  expect(std::holds_alternative<hv::HaltExit>(exit), "the driver ran to its HLT");
  std::printf("driver result %u, device status 0x%x, console: %s", driver_result.load(), transport->status(),
              console_output->contents().c_str());
  expect(driver_result == 0, "the driver reported success (else: the number of its failed check)");
  expect(transport->status() == 0xf, "the driver set ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK");
  expect(console_output->contents() == "hello from virtio-console\n", "the guest's line came out of the device");
  return 0;
}
