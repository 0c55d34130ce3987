// The VP register page end to end on mshv-sim: the simulator's side (a page per VP, filled at each
// intercept, its dirty classes loaded before the next run; refused or never valid on request), the
// backend's use of it (registers read and written there, no hypercall), and the fallback to the
// hypercalls (the whole conformance suite on the fallback: conformance/tests/mshv_fallback_conformance_test.cpp).
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"
#include "hv/mshv/counting_system.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"
#include "mshv_abi.hpp"
#include "mshv_register_page.hpp"

namespace {

namespace abi = hv::mshv::abi;

bool have_kvm() { return hv::mshv::probe_simulator().available; }

// The simulator through the ABI: a partition, one VP, its descriptor.
struct RawVp {
  std::shared_ptr<hv::mshv::MshvSystem> system;
  int partition = -1;
  int vp = -1;
};
RawVp raw_vp(hv::mshv::SimulatorOptions options) {
  RawVp r;
  auto sim = hv::mshv::make_simulator(options);
  EXPECT_TRUE(sim);
  if (!sim) return r;
  r.system = *sim;
  const int dev = r.system->open_device();
  abi::CreatePartition create{};
  create.pt_flags = 1ULL << abi::kPtBitGpaSuperPages;
  r.partition = static_cast<int>(r.system->ioctl(dev, abi::kCreatePartition, &create));
  EXPECT_GE(r.partition, 0);
  EXPECT_EQ(r.system->ioctl(r.partition, abi::kInitializePartition, nullptr), 0);
  abi::CreateVp vp{0};
  r.vp = static_cast<int>(r.system->ioctl(r.partition, abi::kCreateVp, &vp));
  EXPECT_GE(r.vp, 0);
  return r;
}

TEST(MshvSimRegisterPage, MapsLikeTheKernelsMshvVpMmap) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  RawVp r = raw_vp({});
  ASSERT_GE(r.vp, 0);
  auto page = r.system->map_vp_page(r.vp, abi::kVpMmapOffsetRegisters);
  ASSERT_TRUE(page.page);
  EXPECT_EQ(page.page->bytes().size(), 4096U);
  // No intercept yet: the page does not hold the VP's state.
  EXPECT_EQ(page.page->bytes()[offsetof(abi::HvVpRegisterPage, isvalid)], 0);
  // Two mappings are the same page.
  auto again = r.system->map_vp_page(r.vp, abi::kVpMmapOffsetRegisters);
  ASSERT_TRUE(again.page);
  EXPECT_EQ(again.page->bytes().data(), page.page->bytes().data());
  EXPECT_EQ(r.system->map_vp_page(r.vp, abi::kVpMmapOffsetGhcb).error, ENODEV);  // not an encrypted partition
  EXPECT_EQ(r.system->map_vp_page(r.vp, abi::kVpMmapOffsetGhcb + 1).error, EINVAL);
  EXPECT_EQ(r.system->map_vp_page(r.partition, abi::kVpMmapOffsetRegisters).error, ENODEV);  // no mmap there
  EXPECT_EQ(r.system->map_vp_page(12345, abi::kVpMmapOffsetRegisters).error, EBADF);
}

TEST(MshvSimRegisterPage, RefusedOnRequestWithEnodev) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  RawVp r = raw_vp({.register_page = false});
  ASSERT_GE(r.vp, 0);
  const auto page = r.system->map_vp_page(r.vp, abi::kVpMmapOffsetRegisters);
  EXPECT_FALSE(page.page);
  EXPECT_EQ(page.error, ENODEV);
}

// A 64-bit guest on the backend over counting(mshv-sim): `code` at 0x1000.
struct Guest {
  std::shared_ptr<hv::mshv::MshvSystem> sim;
  std::shared_ptr<hv::mshv::CountingSystem> counting;
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
};
Guest boot(const std::vector<std::uint8_t>& code, hv::mshv::SimulatorOptions options) {
  Guest g;
  auto sim = hv::mshv::make_simulator(options);
  EXPECT_TRUE(sim);
  if (!sim) return g;
  g.sim = *sim;
  g.counting = std::make_shared<hv::mshv::CountingSystem>(g.sim);
  auto h = hv::mshv::open(g.counting, "mshv-sim");
  EXPECT_TRUE(h);
  if (!h) return g;
  g.hypervisor = std::move(*h);
  auto vm = g.hypervisor->create_vm();
  EXPECT_TRUE(vm);
  if (!vm) return g;
  g.vm = std::move(*vm);
  auto ram = hv::GuestRegion::create(0, 0x400000);
  EXPECT_TRUE(ram);
  if (!ram) return g;
  std::memcpy((*ram)->host().data() + 0x1000, code.data(), code.size());
  EXPECT_TRUE(g.vm->map_memory(*ram));
  auto vcpu = g.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  if (!vcpu) return g;
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(*ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, 0x380000, 0x1000, 0x8000));
  return g;
}

// 0x1000: hlt, and more HLTs up to 0x1010: mov al, 0x42 ; out 0x81, al ; hlt. Only a RIP moved to
// 0x1010 reaches the OUT.
std::vector<std::uint8_t> halt_then_elsewhere() {
  std::vector<std::uint8_t> code(0x20, 0xf4);
  code[0] = 0xf4;
  const std::uint8_t there[] = {0xb0, 0x42, 0xe6, 0x81, 0xf4};
  std::memcpy(code.data() + 0x10, there, sizeof there);
  return code;
}

// After an intercept the page holds the VP's state; a RIP the VMM writes goes only into the page (no
// SET_VP_REGISTERS), and the guest continues there: the simulator loaded the IP class before running.
TEST(MshvRegisterPage, ARipWrittenOnlyThroughThePageIsWhereTheGuestContinues) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  Guest g = boot(halt_then_elsewhere(), {});
  ASSERT_TRUE(g.vcpu);
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  g.counting->reset();
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, 0x1001U);  // past the HLT (docs/mshv.md, "HLT")
  regs->rip = 0x1010;
  ASSERT_TRUE(g.vcpu->set_registers(*regs));
  EXPECT_EQ(g.counting->totals().total_hypercalls(), 0U) << "read and written through the page";
  EXPECT_EQ(g.counting->totals().total_ioctls(), 0U);
  exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_EQ(io.accesses[0].address, 0x81U);
  ASSERT_EQ(io.accesses[0].data.size(), 1U);
  EXPECT_EQ(io.accesses[0].data[0], 0x42);
  // Completed through the page too (RIP past the OUT), and now the HLT's.
  EXPECT_EQ(g.counting->totals().hypercall(abi::kHvcallSetVpRegisters), 0U);
  regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, 0x1015U);
  EXPECT_EQ(regs->rax & 0xff, 0x42U);
}

// The same with the page refused or never valid: the hypercalls carry the registers, with the same result.
TEST(MshvRegisterPage, WithoutAValidPageTheHypercallsCarryTheRegisters) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  for (const hv::mshv::SimulatorOptions options :
       {hv::mshv::SimulatorOptions{.register_page = false, .register_page_valid = true},
        hv::mshv::SimulatorOptions{.register_page = true, .register_page_valid = false}}) {
    SCOPED_TRACE(options.register_page ? "page never valid" : "page refused");
    Guest g = boot(halt_then_elsewhere(), options);
    ASSERT_TRUE(g.vcpu);
    hv::testing::RecordingIo io;
    auto exit = g.vcpu->run(io);
    ASSERT_TRUE(exit) << exit.error().to_string();
    ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
    g.counting->reset();
    auto regs = g.vcpu->get_registers();
    ASSERT_TRUE(regs);
    EXPECT_EQ(regs->rip, 0x1001U);
    regs->rip = 0x1010;
    ASSERT_TRUE(g.vcpu->set_registers(*regs));
    EXPECT_EQ(g.counting->totals().hypercall(abi::kHvcallGetVpRegisters), 1U);
    EXPECT_EQ(g.counting->totals().hypercall(abi::kHvcallSetVpRegisters), 1U);
    exit = g.vcpu->run(io);
    ASSERT_TRUE(exit) << exit.error().to_string();
    ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
    ASSERT_EQ(io.accesses.size(), 1U);
    EXPECT_EQ(io.accesses[0].address, 0x81U);
    EXPECT_EQ(g.counting->totals().hypercall(abi::kHvcallSetVpRegisters), 2U);  // the OUT's completion
    regs = g.vcpu->get_registers();
    ASSERT_TRUE(regs);
    EXPECT_EQ(regs->rip, 0x1015U);
  }
}

// The page after run() returned, read through a second mapping: the VP's state at the last intercept
// (the HLT, after the OUT's completion went through the page), isvalid set (or not, on request), nothing
// left dirty.
TEST(MshvSimRegisterPage, HoldsTheStateAtTheLastIntercept) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  for (const bool valid : {true, false}) {
    Guest g = boot({0xb0, 0x5a, 0xe6, 0x80, 0xf4}, {.register_page = true, .register_page_valid = valid});
    ASSERT_TRUE(g.vcpu);
    // A second mapping of the page the backend mapped: only a VP descriptor maps, and the simulator
    // numbers descriptors from 1 << 24 (the device's, the partition's, then this one VP's).
    hv::mshv::PageMapping page;
    for (int fd = 1 << 24; fd < (1 << 24) + 8 && !page.page; ++fd) page = g.sim->map_vp_page(fd, 0);
    ASSERT_TRUE(page.page);
    hv::testing::RecordingIo io;
    auto exit = g.vcpu->run(io);
    ASSERT_TRUE(exit) << exit.error().to_string();
    abi::HvVpRegisterPage p{};
    std::memcpy(&p, page.page->bytes().data(), sizeof p);
    EXPECT_EQ(p.version, abi::kRegisterPageVersion1);
    EXPECT_EQ(p.isvalid, valid ? 1 : 0);
    EXPECT_EQ(p.dirty, 0U);
    EXPECT_EQ(p.rip, 0x1005U);  // the HLT's message: RIP past it
    EXPECT_EQ(p.gp_registers[0] & 0xff, 0x5aU);
    EXPECT_NE(p.cr0 & 1, 0U);
    EXPECT_NE(p.efer & (1U << 10), 0U);                                              // LMA
    EXPECT_NE(p.segments[abi::kRegisterPageSegmentCs].attributes & (1U << 13), 0U);  // CS.L
  }
}

}  // namespace
