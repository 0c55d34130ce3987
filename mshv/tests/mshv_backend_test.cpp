// The MSHV backend's own duties, run against the ABI simulator: string IO that a guest asks to be
// huge stays bounded per intercept and yields to kicks, completes across resumes with every byte in
// order; and what the backend writes into guest RAM for the guest reaches the dirty log.
#include <cstring>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/x86_boot.hpp"
#include "mshv_memory.hpp"

namespace {

constexpr std::uint64_t kRam = 0x400000;  // 4 MiB
constexpr std::uint64_t kTables = 0x380000;
constexpr std::uint64_t kSource = 0x100000;  // REP OUTSB reads from here
constexpr std::uint64_t kBytes = 0x40000;    // 256 KiB: 64 pages, four times the per-intercept share

// mov rcx, kBytes ; mov rsi, kSource ; mov dx, 0x80 ; rep outsb ; hlt
const std::vector<std::uint8_t> kGuest = {0x48, 0xc7, 0xc1, 0x00, 0x00, 0x04, 0x00, 0x48, 0xc7, 0xc6, 0x00,
                                          0x00, 0x10, 0x00, 0x66, 0xba, 0x80, 0x00, 0xf3, 0x6e, 0xf4};
constexpr std::uint64_t kRepRip = 0x1000 + 18;

struct Guest {
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
  std::shared_ptr<hv::GuestRegion> ram;
};

Guest boot() {
  Guest g;
  auto system = hv::mshv::make_simulator();
  if (!system) return g;
  auto h = hv::mshv::open(*system, "mshv-sim");
  EXPECT_TRUE(h);
  g.hypervisor = std::move(*h);
  auto vm = g.hypervisor->create_vm();
  EXPECT_TRUE(vm);
  g.vm = std::move(*vm);
  auto ram = hv::GuestRegion::create(0, kRam);
  EXPECT_TRUE(ram);
  g.ram = *ram;
  std::memcpy(g.ram->host().data() + 0x1000, kGuest.data(), kGuest.size());
  for (std::uint64_t i = 0; i < kBytes; ++i) g.ram->host()[kSource + i] = static_cast<std::uint8_t>(i * 7 + i / 4096);
  EXPECT_TRUE(g.vm->map_memory(g.ram));
  auto vcpu = g.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(g.ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, kTables, 0x1000, 0x8000));
  return g;
}

bool have_kvm() { return hv::mshv::probe_simulator().available; }

TEST(MshvBackend, LongRepOutsCompletesAcrossResumesInOrder) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  Guest g = boot();
  ASSERT_TRUE(g.vcpu);
  std::vector<std::uint8_t> received;
  int io_exits = 0;
  for (int i = 0; i < 200; ++i) {
    auto exit = g.vcpu->run();
    ASSERT_TRUE(exit) << exit.error().to_string();
    if (std::holds_alternative<hv::HaltExit>(*exit)) break;
    const auto* io = std::get_if<hv::IoExit>(&*exit);
    ASSERT_NE(io, nullptr) << hv::exit_name(*exit);
    EXPECT_LE(io->data.size(), 4096U);  // at most a page per exit
    received.insert(received.end(), io->data.begin(), io->data.end());
    ++io_exits;
  }
  ASSERT_EQ(received.size(), kBytes);
  EXPECT_EQ(std::memcmp(received.data(), g.ram->host().data() + kSource, kBytes), 0);
  EXPECT_EQ(io_exits, 64);
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rcx, 0U);
  EXPECT_EQ(regs->rsi, kSource + kBytes);
  EXPECT_EQ(regs->rip, kRepRip + 3);  // past the HLT
}

TEST(MshvBackend, AKickStopsALongRepBetweenChunksWithItsProgressSaved) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  Guest g = boot();
  ASSERT_TRUE(g.vcpu);
  int io_exits = 0;
  for (;;) {
    auto exit = g.vcpu->run();
    ASSERT_TRUE(exit) << exit.error().to_string();
    if (std::holds_alternative<hv::InterruptedExit>(*exit)) break;
    ASSERT_TRUE(std::holds_alternative<hv::IoExit>(*exit)) << hv::exit_name(*exit);
    if (++io_exits == 3) g.vcpu->kick();
    ASSERT_LT(io_exits, 10) << "the kick did not stop the REP";
  }
  EXPECT_EQ(io_exits, 3);
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, kRepRip);  // still on the instruction, as after an interrupt between iterations
  EXPECT_EQ(regs->rcx, kBytes - 3 * 4096);
  EXPECT_EQ(regs->rsi, kSource + 3 * 4096);
}

TEST(MshvPartitionMemory, WritesTheBackendMakesAreLoggedWhileLogging) {
  hv::mshv::detail::PartitionMemory memory;
  auto region = hv::GuestRegion::create(0x10000, 0x10000);  // 16 pages
  ASSERT_TRUE(region);
  memory.add(7, *region, true);
  const std::uint8_t bytes[4] = {1, 2, 3, 4};
  ASSERT_TRUE(memory.write(0x10000 + 0x2000, bytes));  // not logging yet
  EXPECT_TRUE(memory.take_dirty(7).empty());
  memory.set_logging(7, true);
  ASSERT_TRUE(memory.write(0x10000 + 0x3ffe, bytes));  // straddles pages 3 and 4
  ASSERT_TRUE(memory.write(0x10000 + 0xf000, std::span(bytes, 1)));
  auto dirty = memory.take_dirty(7);
  ASSERT_EQ(dirty.size(), 1U);
  EXPECT_EQ(dirty[0], (1ULL << 3) | (1ULL << 4) | (1ULL << 15));
  EXPECT_EQ(memory.take_dirty(7)[0], 0U);      // taking clears
  EXPECT_FALSE(memory.write(0x30000, bytes));  // outside every region: refused, nothing logged
}

}  // namespace
