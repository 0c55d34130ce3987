// The exit path allocates nothing, on every backend: a real-mode guest makes 2000 port writes and
// 2000 MMIO writes (each an exit: on KVM a KVM_EXIT_IO/MMIO, on MSHV an IO or memory intercept that
// the backend decodes and emulates) and the heap is not touched while run() serves them. Global
// operator new is replaced in this binary to count.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "hv/backend_registry.hpp"
#include "hv/builtin_backends.hpp"
#include "hv/x86_boot.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// NOLINTBEGIN(cppcoreguidelines-no-malloc): the replacement operator new must allocate with malloc.
// GCC cannot see that these are the replacements of each other, so it calls free() on new's pointer
// a mismatch; here it is the definition of the pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
void* counted_allocation(std::size_t size) noexcept {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace
// Every form the library may use (hvkit allocates some objects with nothrow new), so that each
// allocation is counted and each pointer is freed by the allocator that made it.
void* operator new(std::size_t size) {
  if (void* p = counted_allocation(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = counted_allocation(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
// NOLINTEND(cppcoreguidelines-no-malloc)

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
  counting = true;
  auto exit = (*vcpu)->run(io);
  counting = false;
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  EXPECT_EQ(io.pio, kLoops);
  EXPECT_EQ(io.mmio, kLoops);
  EXPECT_EQ(allocations.load(), 0U) << "heap allocations while run() served " << 2 * kLoops - 20 << " exits";
}

INSTANTIATE_TEST_SUITE_P(Backends, ExitPathAllocations, ::testing::Values("kvm", "mshv-sim"),
                         [](const auto& param_info) {
                           return std::string(param_info.param) == "kvm" ? "kvm" : "mshv_sim";
                         });

}  // namespace
