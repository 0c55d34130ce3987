// PIO and MMIO exit round trips: the same real-mode guest loop driven by hvkit (each exit completed
// through an IoHandler inside run()) and by bare ioctls.
#include <array>
#include <cstdint>
#include <variant>

#include <benchmark/benchmark.h>
#include <linux/kvm.h>

#include "hv/backend_registry.hpp"
#include "hv/builtin_backends.hpp"
#include "hv/x86_boot.hpp"
#include "paired_reporter.hpp"
#include "raw_kvm_guest.hpp"

namespace {

// out dx, al ; jmp back — one PIO exit per iteration (dx = 0 after reset, any port exits).
constexpr std::array<std::uint8_t, 3> kPioLoop = {0xEE, 0xEB, 0xFD};
// mov [0x9000], al ; jmp back — 0x9000 is beyond RAM in both setups: one MMIO exit per iteration.
constexpr std::array<std::uint8_t, 5> kMmioLoop = {0xA2, 0x00, 0x90, 0xEB, 0xFB};

struct HvkitGuest {
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
  std::string error;

  HvkitGuest(std::span<const std::uint8_t> code, const char* backend) {
    auto h = hv::open_hypervisor(backend);
    if (!h) {
      error = h.error().to_string();
      return;
    }
    hypervisor = std::move(*h);
    auto v = hypervisor->create_vm();
    if (!v) {
      error = v.error().to_string();
      return;
    }
    vm = std::move(*v);
    auto ram = hv::GuestRegion::create(0, 0x8000);
    if (!ram) {
      error = ram.error().to_string();
      return;
    }
    std::copy(code.begin(), code.end(), (*ram)->host().begin() + 0x1000);
    if (auto s = vm->map_memory(*ram); !s) {
      error = s.error().to_string();
      return;
    }
    auto c = vm->create_vcpu(0);
    if (!c) {
      error = c.error().to_string();
      return;
    }
    vcpu = std::move(*c);
    if (auto r = hv::x86::enter_real_mode(*vcpu, 0x1000, 0x7000); !r) error = r.error().to_string();
  }
};

// Counts the guest's device accesses and kicks its vCPU after `remaining` of them, so one run()
// covers a batch of exits and returns InterruptedExit (one kick per batch: ~0.1% of the exits).
class CountingHandler final : public hv::IoHandler {
 public:
  explicit CountingHandler(hv::Vcpu& vcpu) : vcpu_(vcpu) {}
  void start(benchmark::IterationCount batch) { remaining_ = batch; }
  [[nodiscard]] bool batch_done() const noexcept { return remaining_ == 0; }
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override { count(); }
  void pio_write(std::uint16_t, std::span<const std::uint8_t> data) noexcept override {
    benchmark::DoNotOptimize(data.data());
    count();
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override { count(); }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t> data) noexcept override {
    benchmark::DoNotOptimize(data.data());
    count();
  }

 private:
  void count() noexcept {
    if (remaining_ > 0 && --remaining_ == 0) vcpu_.kick();
  }
  hv::Vcpu& vcpu_;
  benchmark::IterationCount remaining_ = 0;
};

void hvkit_loop(benchmark::State& state, std::span<const std::uint8_t> code, const char* backend = "kvm") {
  HvkitGuest guest(code, backend);
  if (!guest.error.empty()) {
    state.SkipWithError(guest.error.c_str());
    return;
  }
  constexpr benchmark::IterationCount kBatch = 1000;
  CountingHandler handler(*guest.vcpu);
  while (state.KeepRunningBatch(kBatch)) {
    handler.start(kBatch);
    auto exit = guest.vcpu->run(handler);
    if (!exit || !std::holds_alternative<hv::InterruptedExit>(*exit) || !handler.batch_done()) {
      state.SkipWithError("unexpected exit");
      break;
    }
  }
}

void raw_loop(benchmark::State& state, std::span<const std::uint8_t> code, int expected_reason) {
  hvbench::RawKvmGuest guest(code);
  if (!guest.error().empty()) {
    state.SkipWithError(guest.error().c_str());
    return;
  }
  for (auto _ : state) {
    const int reason = guest.run();
    if (reason != expected_reason) {
      state.SkipWithError("unexpected exit");
      break;
    }
    benchmark::DoNotOptimize(reason);
  }
}

void BM_PioHvkit(benchmark::State& s) { hvkit_loop(s, kPioLoop); }
void BM_PioRaw(benchmark::State& s) { raw_loop(s, kPioLoop, KVM_EXIT_IO); }
void BM_MmioHvkit(benchmark::State& s) { hvkit_loop(s, kMmioLoop); }
void BM_MmioRaw(benchmark::State& s) { raw_loop(s, kMmioLoop, KVM_EXIT_MMIO); }
// The same MMIO loop through the MSHV backend on the ABI simulator: each exit is a memory intercept
// the backend decodes and emulates; the simulator single-steps KVM underneath (docs/mshv.md).
void BM_MmioMshvSim(benchmark::State& s) { hvkit_loop(s, kMmioLoop, "mshv-sim"); }

// Interleaved so that drift in host load affects both halves of a pair alike.
BENCHMARK(BM_PioRaw)->Name("pio/raw_ioctl")->Repetitions(3)->ReportAggregatesOnly(false);
BENCHMARK(BM_PioHvkit)->Name("pio/hvkit")->Repetitions(3);
BENCHMARK(BM_MmioRaw)->Name("mmio/raw_ioctl")->Repetitions(3);
BENCHMARK(BM_MmioHvkit)->Name("mmio/hvkit")->Repetitions(3);
BENCHMARK(BM_MmioRaw)->Name("mmio_on_mshv_sim/raw_ioctl")->Repetitions(3);
BENCHMARK(BM_MmioMshvSim)->Name("mmio_on_mshv_sim/hvkit")->Repetitions(3);

}  // namespace

int main(int argc, char** argv) {
  hv::register_builtin_backends();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hvbench::PairedReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
