// The exit path allocates nothing, on every backend: a real-mode guest makes 2000 port writes and
// 2000 MMIO writes (each an exit: on KVM a KVM_EXIT_IO/MMIO, on MSHV an IO or memory intercept that
// the backend decodes and emulates) and the heap is not touched, by any thread, while run() serves
// them (counted by the replacement operator new this binary links, hvkit_counting_allocator).
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "counting_allocator.hpp"
#include "hv/backend_registry.hpp"
#include "hv/builtin_backends.hpp"
#include "hv/x86_boot.hpp"

namespace {

constexpr std::uint16_t kLoops = 2000;
// mov cx, kLoops ; L: out dx, al ; mov [0x9000], al (beyond RAM: MMIO) ; loop L ; hlt
constexpr std::array<std::uint8_t, 10> kGuest = {0xB9, kLoops & 0xff, kLoops >> 8, 0xEE, 0xA2,
                                                 0x00, 0x90,          0xE2,        0xFA, 0xF4};

// Counts accesses without allocating; kicks after `warm_up` of them.
class CountingIo final : public hv::IoHandler {
 public:
  explicit CountingIo(hv::Vcpu& vcpu) : vcpu_(vcpu) {}
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override { count(); }
  void pio_write(std::uint16_t, std::span<const std::uint8_t>) noexcept override {
    ++pio;
    count();
  }
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override { count(); }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {
    ++mmio;
    count();
  }
  std::uint64_t pio = 0, mmio = 0, warm_up = 0;

 private:
  void count() {
    if (pio + mmio == warm_up) vcpu_.kick();
  }
  hv::Vcpu& vcpu_;
};

class ExitPathAllocations : public ::testing::TestWithParam<const char*> {};

TEST_P(ExitPathAllocations, AreZeroAcrossThousandsOfPioAndMmioExits) {
  hv::register_builtin_backends();
  auto hypervisor = hv::open_hypervisor(GetParam());
  if (!hypervisor) GTEST_SKIP() << hypervisor.error().to_string();
  auto vm = (*hypervisor)->create_vm();
  ASSERT_TRUE(vm) << vm.error().to_string();
  auto ram = hv::GuestRegion::create(0, 0x8000);
  ASSERT_TRUE(ram);
  std::copy(kGuest.begin(), kGuest.end(), (*ram)->host().begin() + 0x1000);
  ASSERT_TRUE((*vm)->map_memory(*ram));
  auto vcpu = (*vm)->create_vcpu(0);
  ASSERT_TRUE(vcpu) << vcpu.error().to_string();
  ASSERT_TRUE(hv::x86::enter_real_mode(**vcpu, 0x1000, 0x7000));
  CountingIo io(**vcpu);
  // Warm up: what a backend sets up once per thread or per vCPU may allocate.
  io.warm_up = 20;
  auto first = (*vcpu)->run(io);
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::InterruptedExit>(*first)) << hv::exit_name(*first);
  io.warm_up = 0;
  hv::Result<hv::Exit> exit;
  const std::uint64_t allocations =
      hvtest::allocations_in(hvtest::CountOn::AllThreads, [&] { exit = (*vcpu)->run(io); });
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  EXPECT_EQ(io.pio, kLoops);
  EXPECT_EQ(io.mmio, kLoops);
  EXPECT_EQ(allocations, 0U) << "heap allocations while run() served " << 2 * kLoops - 20 << " exits";
}

INSTANTIATE_TEST_SUITE_P(Backends, ExitPathAllocations, ::testing::Values("kvm", "mshv-sim"),
                         [](const auto& param_info) {
                           return std::string(param_info.param) == "kvm" ? "kvm" : "mshv_sim";
                         });

}  // namespace
