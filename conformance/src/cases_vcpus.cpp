// Several vCPUs running at once, and kick() from another thread.
#include <chrono>
#include <future>
#include <thread>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

constexpr std::uint64_t kOutsPerVcpu = 16;

CaseResult concurrent_io(Hypervisor& hypervisor, std::uint32_t vcpus) {
  auto max = hypervisor.capability(Capability::MaxVcpus);
  CONF_TRY(max, "max vCPUs");
  if (*max < vcpus) return CaseResult::unsupported(why("the backend allows ", *max, " vCPUs"));
  auto t = TestVm::boot(hypervisor, {.guest = "multi_vcpu", .mode = CpuMode::Real, .vcpus = vcpus});
  CONF_TRY(t, "boot");
  for (std::uint32_t i = 0; i < vcpus; ++i) {
    auto regs = (*t)->vcpu(i).get_registers();
    CONF_TRY(regs, "get_registers");
    regs->rbx = i;
    regs->rcx = kOutsPerVcpu;
    CONF_TRY((*t)->vcpu(i).set_registers(*regs), "set_registers");
  }
  std::vector<std::future<Trace>> runs;
  for (std::uint32_t i = 0; i < vcpus; ++i) {
    runs.push_back(std::async(std::launch::async, [&t, i] { return (*t)->run(i); }));
  }
  for (std::uint32_t i = 0; i < vcpus; ++i) {
    const auto trace = runs[i].get();
    CONF_EXPECT_EXIT(trace, "halt");
    CONF_CHECK(trace.io.size() == kOutsPerVcpu, "vCPU ", i, " made ", trace.io.size(), " IO exits, expected ",
               kOutsPerVcpu);
    for (const auto& io : trace.io) {
      CONF_CHECK(io.port == 0x100 + i && io.value() == i, "vCPU ", i, " saw an exit for port ", hex(io.port), " value ",
                 io.value(), ": exits crossed between vCPUs");
    }
  }
  return CaseResult::pass();
}

}  // namespace

CaseResult two_vcpus_concurrent_io(Hypervisor& h) { return concurrent_io(h, 2); }
CaseResult four_vcpus_concurrent_io(Hypervisor& h) { return concurrent_io(h, 4); }

CaseResult kick_stops_spinning_guest(Hypervisor& hypervisor) {
  using namespace std::chrono_literals;
  auto t = TestVm::boot(hypervisor, {.guest = "spin"});
  CONF_TRY(t, "boot");
  // The watchdog (5 s) only fires if kick() failed to stop the guest.
  auto run = std::async(std::launch::async,
                        [&t] { return (*t)->run(0, {}, {.deadline = 5000ms, .stop_on_report = std::nullopt}); });
  CONF_CHECK(run.wait_for(100ms) == std::future_status::timeout, "run() returned while the guest spins");
  const auto kicked_at = std::chrono::steady_clock::now();
  (*t)->vcpu().kick();
  const auto trace = run.get();
  const auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - kicked_at);
  CONF_EXPECT_EXIT(trace, "interrupted");
  CONF_CHECK(!trace.timed_out, "the kick was lost; the watchdog stopped the guest after 5 s");
  CONF_CHECK(latency < 1000ms, "run() took ", latency.count(), " ms to return after kick()");
  return CaseResult::pass();
}

// A vCPU is driven by one thread at a time: a second run() while the first is inside the guest is
// Busy at once on every backend (not a hang, not a second KVM_RUN/RUN_VP racing the first), and the
// first run() goes on unharmed.
CaseResult concurrent_run_is_busy(Hypervisor& hypervisor) {
  using namespace std::chrono_literals;
  auto t = TestVm::boot(hypervisor, {.guest = "spin"});
  CONF_TRY(t, "boot");
  auto run = std::async(std::launch::async,
                        [&t] { return (*t)->run(0, {}, {.deadline = 5000ms, .stop_on_report = std::nullopt}); });
  CONF_CHECK(run.wait_for(100ms) == std::future_status::timeout, "run() returned while the guest spins");
  struct Ignore final : IoHandler {
    void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override {}
    void pio_write(std::uint16_t, std::span<const std::uint8_t>) noexcept override {}
    void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
    void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
  } ignore;
  auto second = std::async(std::launch::async, [&t, &ignore] { return (*t)->vcpu().run(ignore); });
  const bool second_returned = second.wait_for(2000ms) == std::future_status::ready;
  (*t)->vcpu().kick();
  const auto trace = run.get();
  CONF_CHECK(second_returned, "a second concurrent run() did not return within 2 s");
  const auto busy = second.get();
  CONF_CHECK(!busy, "a second concurrent run() was accepted and returned ", exit_name(*busy));
  CONF_CHECK(busy.error().kind() == ErrorKind::Busy, "a second concurrent run() gave ", to_string(busy.error().kind()),
             ", documented: Busy (", busy.error().to_string(), ")");
  CONF_EXPECT_EXIT(trace, "interrupted");
  CONF_CHECK(!trace.timed_out, "the first run() needed the watchdog after the refused second one");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
