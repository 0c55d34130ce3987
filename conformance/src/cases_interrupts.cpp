// Doorbells and interrupts: ioeventfd without a userspace exit, irqfd and MSI to the guest's IDT.
#include <chrono>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kVector = 0x40;
constexpr std::uint64_t kReady = 0x11;
constexpr MsiMessage kMsiToApic0{.address = 0xfee00000, .data = kVector};  // fixed delivery, edge, APIC 0

// Boots interrupt_handler with an in-kernel irqchip, runs it to "ready", calls `raise`, then expects
// the guest's handler to report the vector.
template <class Raise>
CaseResult interrupt_reaches_handler(Hypervisor& hypervisor, Raise raise) {
  CONF_TRY(hypervisor.capability(Capability::InKernelIrqchip), "in-kernel interrupt controller");
  auto t = TestVm::boot(hypervisor, {.guest = "interrupt_handler", .vm_options = {.in_kernel_irqchip = true}});
  CONF_TRY(t, "boot");
  auto ready = (*t)->run(0, {}, {.stop_on_report = kReady});
  CONF_EXPECT_EXIT(ready, "report");
  if (auto r = raise(**t); r.outcome != Outcome::Pass) return r;
  auto handled = (*t)->run(0, {}, {.deadline = 5000ms, .stop_on_report = kVector});
  CONF_CHECK(handled.final_exit == "report", "the guest's handler for vector ", hex(kVector),
             " never ran (run ended with '", handled.final_exit, "'", handled.timed_out ? ", watchdog after 5 s" : "",
             ")");
  return CaseResult::pass();
}

}  // namespace

CaseResult ioeventfd_mmio_datamatch(Hypervisor& hypervisor) {
  CONF_TRY(hypervisor.capability(Capability::Ioeventfd), "ioeventfd");
  auto t = TestVm::boot(hypervisor, {.guest = "ioeventfd_mmio"});
  CONF_TRY(t, "boot");
  auto event = EventFd::create();
  CONF_TRY(event, "eventfd");
  const IoEventAddress doorbell{
      .space = IoEventSpace::Mmio, .address = kMmioWindow + 0x100, .length = 4, .datamatch = 0x12345678};
  CONF_TRY((*t)->vm().register_ioeventfd(*event, doorbell), "register_ioeventfd");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.mmio.size() == 1 && trace.mmio[0].value() == 1, "expected only the non-matching write to exit, got ",
             trace.mmio.size(), " MMIO exits");
  auto count = event->consume();
  CONF_CHECK(count && *count == 1, "the matching write did not signal the eventfd exactly once");
  return CaseResult::pass();
}

CaseResult ioeventfd_pio(Hypervisor& hypervisor) {
  CONF_TRY(hypervisor.capability(Capability::IoeventfdPio), "port I/O ioeventfd");
  auto t = TestVm::boot(hypervisor, {.guest = "ioeventfd_pio"});
  CONF_TRY(t, "boot");
  auto event = EventFd::create();
  CONF_TRY(event, "eventfd");
  CONF_TRY((*t)->vm().register_ioeventfd(
               *event, {.space = IoEventSpace::Pio, .address = 0x510, .length = 1, .datamatch = std::nullopt}),
           "register_ioeventfd");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.io.empty(), "the OUT exited to userspace instead of signalling the eventfd");
  auto fired = event->wait_for(0ms);
  CONF_CHECK(fired && *fired, "the eventfd was not signalled");
  return CaseResult::pass();
}

CaseResult irqfd_interrupt_reaches_handler(Hypervisor& hypervisor) {
  CONF_TRY(hypervisor.capability(Capability::Irqfd), "irqfd");
  CONF_TRY(hypervisor.capability(Capability::GsiRouting), "GSI routing");
  auto event = EventFd::create();
  CONF_TRY(event, "eventfd");
  return interrupt_reaches_handler(hypervisor, [&](TestVm& t) {
    constexpr std::uint32_t kGsi = 24;  // above the IOAPIC's pins
    const std::array<GsiRoute, 1> routes = {MsiRoute{.gsi = kGsi, .message = kMsiToApic0}};
    CONF_TRY(t.vm().set_gsi_routing(routes), "set_gsi_routing");
    CONF_TRY(t.vm().register_irqfd(*event, kGsi), "register_irqfd");
    CONF_TRY(event->signal(), "signal eventfd");
    return CaseResult::pass();
  });
}

CaseResult msi_interrupt_reaches_handler(Hypervisor& hypervisor) {
  CONF_TRY(hypervisor.capability(Capability::MsiSignal), "MSI");
  return interrupt_reaches_handler(hypervisor, [](TestVm& t) {
    CONF_TRY(t.vm().signal_msi(kMsiToApic0), "signal_msi");
    return CaseResult::pass();
  });
}

}  // namespace hv::conformance::cases
