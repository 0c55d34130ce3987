// docs/guide.md, "Devices and the run loop": hvkit's DeviceManager as the IoHandler, a 16550A UART and
// a debug-exit port on its PIO bus, and the run loop a VMM thread runs per vCPU. The debug-exit
// device stops the guest by kicking the vCPU from inside the handler.
// Usage: guide_03_devices [BACKEND]
// Exit status: 0 when the guest's text came out of the UART and its debug-exit value ended the run
// right after the OUT; 77 when BACKEND is not available here; 1 otherwise.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <hv/dev/byte_sink.hpp>
#include <hv/dev/debug_exit.hpp>
#include <hv/dev/device_manager.hpp>
#include <hv/dev/interrupt_line.hpp>
#include <hv/dev/serial_16550.hpp>
#include <hv/x86_boot.hpp>

#include "example.hpp"

using guide::expect;
using guide::must;

int main(int argc, char** argv) {
  auto hypervisor = guide::open_backend(argc, argv);
  auto vm = must(hypervisor->create_vm(), "create_vm");
  auto ram = must(hv::GuestRegion::create(0, 0x10000), "create RAM");
  // Real mode at 0x1000: print the string at 0x1020 through the UART at 0x3f8, write 42 to the
  // debug-exit port 0x501, halt.
  constexpr std::array<std::uint8_t, 22> code = {
      0xBE, 0x20, 0x10,  // mov si, 0x1020
      0xBA, 0xF8, 0x03,  // mov dx, 0x3f8
      0xAC,              // next: lodsb
      0x84, 0xC0,        // test al, al
      0x74, 0x03,        // jz done
      0xEE,              // out dx, al
      0xEB, 0xF8,        // jmp next
      0xBA, 0x01, 0x05,  // done: mov dx, 0x501
      0xB8, 0x2A, 0x00,  // mov ax, 42
      0xEF,              // out dx, ax
      0xF4,              // hlt (at 0x1015)
  };
  constexpr std::string_view message = "hello from the UART\n";
  std::copy(code.begin(), code.end(), ram->host().begin() + 0x1000);
  std::copy(message.begin(), message.end(), ram->host().begin() + 0x1020);  // RAM is zeroed: NUL-terminated
  must(vm->map_memory(ram), "map RAM");
  auto vcpu = must(vm->create_vcpu(0), "create_vcpu");
  must(hv::x86::enter_real_mode(*vcpu, 0x1000, 0x8000), "enter real mode");

  // [guide:devices]
  hv::dev::DeviceManager devices;  // the IoHandler: a PIO bus and an MMIO bus
  auto uart_output = std::make_shared<hv::dev::BufferSink>();
  auto no_irq = std::make_shared<hv::dev::NullInterruptLine>();  // this guest polls: no interrupt behind the UART
  auto uart = std::make_shared<hv::dev::Serial16550>(uart_output, no_irq);  // the UART shares both
  must(devices.add_pio(uart, 0x3f8, hv::dev::Serial16550::kRegisterCount), "add the UART");

  std::atomic<bool> stop_requested = false;
  std::atomic<std::uint32_t> exit_value = 0;
  auto debug_exit = std::make_shared<hv::dev::DebugExit>([&](std::uint32_t value) {
    exit_value = value;
    stop_requested = true;
    vcpu->kick();  // from inside the handler: run() returns InterruptedExit once this OUT is complete
  });
  must(devices.add_pio(debug_exit, hv::dev::DebugExit::kDefaultPort, hv::dev::DebugExit::kSize), "add debug-exit");
  // [/guide:devices]

  // [guide:run_loop]
  for (;;) {
    const hv::Exit exit = must(vcpu->run(devices), "run");  // each port and MMIO access completes inside
    if (std::holds_alternative<hv::InterruptedExit>(exit)) {
      if (stop_requested) break;
      continue;  // a kick for something else (a pause, a signal): run on
    }
    if (std::holds_alternative<hv::HaltExit>(exit)) break;
    // ShutdownExit (a triple fault), SystemEventExit, InternalErrorExit, UnknownExit: the guest cannot go on.
    std::fprintf(stderr, "the guest stopped: %s\n", std::string(hv::exit_name(exit)).c_str());
    return 1;
  }
  // [/guide:run_loop]

  const auto regs = must(vcpu->get_registers(), "get_registers");
  std::printf("UART: %sdebug-exit: %u, stopped at RIP 0x%llx, unclaimed accesses: %llu\n",
              uart_output->contents().c_str(), exit_value.load(), static_cast<unsigned long long>(regs.rip),
              static_cast<unsigned long long>(devices.unclaimed_accesses()));
  expect(uart_output->contents() == message, "the guest's text came out of the UART");
  expect(stop_requested && exit_value == 42, "the guest wrote 42 to debug-exit");
  expect(regs.rip == 0x1015, "run() returned right after the OUT, before the HLT");
  expect(devices.unclaimed_accesses() == 0, "every access reached a device");
  return 0;
}
