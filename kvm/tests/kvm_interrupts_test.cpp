// ioeventfd, irqfd, MSI and the in-kernel irqchip on /dev/kvm.
#include <chrono>

#include "kvm_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using hvtest::KvmVmTest;

hv::EventFd make_eventfd() {
  auto e = hv::EventFd::create();
  EXPECT_TRUE(e);
  return std::move(*e);
}

TEST_F(KvmVmTest, MmioIoeventfdWithDatamatchFiresWithoutAnExit) {
  auto ev = make_eventfd();
  const hv::IoEventAddress doorbell{
      .space = hv::IoEventSpace::Mmio, .address = 0xa000, .length = 4, .datamatch = 0x12345678};
  ASSERT_TRUE(vm->register_ioeventfd(ev, doorbell));
  load({0x66, 0xC7, 0x06, 0x00, 0xA0, 0x78, 0x56, 0x34, 0x12,  // mov dword [0xa000], 0x12345678
        0x66, 0xC7, 0x06, 0x00, 0xA0, 0x01, 0x00, 0x00, 0x00,  // mov dword [0xa000], 1
        0xF4});
  auto e = run_once();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(e)) << hv::exit_name(e);
  ASSERT_EQ(io.accesses.size(), 1U) << "only the non-matching write exits";
  ASSERT_EQ(io.accesses[0].data.size(), 4U);
  EXPECT_EQ(io.accesses[0].data[0], 0x01) << "only the non-matching write exits";
  auto count = ev.consume();
  ASSERT_TRUE(count) << "the matching write signalled the eventfd";
  EXPECT_EQ(*count, 1U);

  ASSERT_TRUE(vm->unregister_ioeventfd(ev, doorbell));
  ASSERT_NO_FATAL_FAILURE(enter_real_mode(*vcpu, hvtest::kCodeAddress));
  io.accesses.clear();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(run_once()));
  ASSERT_EQ(io.accesses.size(), 2U);
  EXPECT_EQ(io.accesses[0].data[0], 0x78) << "after unregistering, the matching write exits too";
}

TEST_F(KvmVmTest, PioIoeventfdWithoutDatamatch) {
  auto ev = make_eventfd();
  ASSERT_TRUE(vm->register_ioeventfd(
      ev, {.space = hv::IoEventSpace::Pio, .address = 0x510, .length = 1, .datamatch = std::nullopt}));
  load({0xBA, 0x10, 0x05, 0xB0, 0x07, 0xEE, 0xF4});  // mov dx, 0x510; mov al, 7; out dx, al; hlt
  auto e = run_once();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(e)) << hv::exit_name(e);
  auto fired = ev.wait_for(0ms);
  ASSERT_TRUE(fired);
  EXPECT_TRUE(*fired);
}

TEST_F(KvmVmTest, IoeventfdArgumentsAreValidated) {
  auto ev = make_eventfd();
  auto bad_len = vm->register_ioeventfd(
      ev, {.space = hv::IoEventSpace::Mmio, .address = 0xa000, .length = 3, .datamatch = std::nullopt});
  ASSERT_FALSE(bad_len);
  EXPECT_EQ(bad_len.error().kind(), hv::ErrorKind::InvalidArgument);
  auto bad_port = vm->register_ioeventfd(
      ev, {.space = hv::IoEventSpace::Pio, .address = 0xffff, .length = 2, .datamatch = std::nullopt});
  ASSERT_FALSE(bad_port);
  EXPECT_EQ(bad_port.error().kind(), hv::ErrorKind::OutOfRange);
  auto bad_match =
      vm->register_ioeventfd(ev, {.space = hv::IoEventSpace::Mmio, .address = 0xa000, .length = 1, .datamatch = 0x100});
  ASSERT_FALSE(bad_match);
  EXPECT_EQ(bad_match.error().kind(), hv::ErrorKind::InvalidArgument);
  auto wraps = vm->register_ioeventfd(
      ev, {.space = hv::IoEventSpace::Mmio, .address = 0xfffffffffffffffcULL, .length = 8, .datamatch = std::nullopt});
  ASSERT_FALSE(wraps);
  EXPECT_EQ(wraps.error().kind(), hv::ErrorKind::OutOfRange);
}

TEST_F(KvmVmTest, MovedFromEventFdIsAnError) {
  auto ev = make_eventfd();
  auto moved = std::move(ev);
  auto r = vm->register_ioeventfd(
      ev, {.space = hv::IoEventSpace::Mmio,
           .address = 0xa000,
           .length = 4,
           .datamatch = std::nullopt});  // NOLINT(bugprone-use-after-move): the point of the test
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST_F(KvmVmTest, InterruptCallsNeedAnIrqchip) {
  auto ev = make_eventfd();
  for (auto r :
       {vm->register_irqfd(ev, 5), vm->signal_msi({.address = 0xfee00000, .data = 0x30}), vm->set_irq_line(4, true)}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::Unsupported);
  }
  auto lapic = vcpu->get_lapic();
  ASSERT_FALSE(lapic);
  EXPECT_EQ(lapic.error().kind(), hv::ErrorKind::Unsupported);
}

class KvmIrqchipTest : public KvmVmTest {
 protected:
  void SetUp() override { SetUpWith({.in_kernel_irqchip = true, .in_kernel_pit = true}); }
};

TEST_F(KvmIrqchipTest, IrqfdRoutingAndLapicState) {
  auto ev = make_eventfd();
  ASSERT_TRUE(vm->register_irqfd(ev, 5));
  ASSERT_TRUE(vm->unregister_irqfd(ev, 5));
  const hv::GsiRoute routes[] = {hv::IrqchipPinRoute{.gsi = 4, .chip = 2, .pin = 4},
                                 hv::MsiRoute{.gsi = 24, .message = {.address = 0xfee00000, .data = 0x31}}};
  ASSERT_TRUE(vm->set_gsi_routing(routes));
  ASSERT_TRUE(vm->register_irqfd(ev, 24));
  ASSERT_TRUE(vm->set_irq_line(4, true));
  ASSERT_TRUE(vm->set_irq_line(4, false));

  auto lapic = vcpu->get_lapic();
  ASSERT_TRUE(lapic) << lapic.error().to_string();
  EXPECT_EQ(lapic->regs[0x23], 0) << "APIC ID register (bits 31:24 at offset 0x20) of vCPU 0";
  lapic->regs[0x80] = 0x10;  // task priority register
  ASSERT_TRUE(vcpu->set_lapic(*lapic));
  auto back = vcpu->get_lapic();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->regs[0x80], 0x10);
}

TEST_F(KvmIrqchipTest, SecondVcpuHasItsOwnApicId) {
  auto second = vm->create_vcpu(1);
  ASSERT_TRUE(second);
  auto lapic = (*second)->get_lapic();
  ASSERT_TRUE(lapic);
  EXPECT_EQ(lapic->regs[0x23], 1);
}

}  // namespace
