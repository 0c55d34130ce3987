#pragma once
// A real-mode test VM on /dev/kvm: 32 KiB of RAM at guest-physical 0, code loaded at 0x1000, CS=0.
// When /dev/kvm cannot be opened the test is skipped with the probe's reason, never passed.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "hv/hypervisor.hpp"
#include "hv/kvm/kvm.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"

namespace hvtest {

constexpr std::uint64_t kRamSize = 0x8000;
constexpr std::uint64_t kCodeAddress = 0x1000;
constexpr std::uint64_t kTablesAddress = 0x100000;

class KvmVmTest : public ::testing::Test {
 protected:
  void SetUp() override { SetUpWith({}); }

  void SetUpWith(hv::VmOptions options) {
    auto availability = hv::kvm::probe();
    if (!availability.available) GTEST_SKIP() << "KVM unavailable: " << availability.reason;
    auto h = hv::kvm::open();
    ASSERT_TRUE(h) << h.error().to_string();
    hypervisor = std::move(*h);
    auto v = hypervisor->create_vm(options);
    ASSERT_TRUE(v) << v.error().to_string();
    vm = std::move(*v);
    auto region = hv::GuestRegion::create(0, kRamSize);
    ASSERT_TRUE(region) << region.error().to_string();
    ram = *region;
    ASSERT_TRUE(memory.add_region(ram));
    auto slot = vm->map_memory(ram);
    ASSERT_TRUE(slot) << slot.error().to_string();
    ram_slot = *slot;
    auto c = vm->create_vcpu(0);
    ASSERT_TRUE(c) << c.error().to_string();
    vcpu = std::move(*c);
    ASSERT_NO_FATAL_FAILURE(enter_real_mode(*vcpu, kCodeAddress));
  }

  void load(std::initializer_list<std::uint8_t> code, std::uint64_t at = kCodeAddress) {
    std::vector<std::uint8_t> bytes(code);
    ASSERT_TRUE(memory.write(at, bytes));
  }

  static void enter_real_mode(hv::Vcpu& cpu, std::uint64_t rip) {
    auto r = hv::x86::enter_real_mode(cpu, static_cast<std::uint16_t>(rip), 0x7000);
    ASSERT_TRUE(r) << r.error().to_string();
  }

  // Maps page tables at 1 MiB and enters 64-bit mode at kCodeAddress with identity paging.
  void enter_long_mode() {
    auto tables = hv::GuestRegion::create(kTablesAddress, hv::x86::kLongModeTablesSize);
    ASSERT_TRUE(tables) << tables.error().to_string();
    ASSERT_TRUE(memory.add_region(*tables));
    ASSERT_TRUE(vm->map_memory(*tables));
    auto r = hv::x86::enter_long_mode(memory, *vcpu, kTablesAddress, kCodeAddress, 0x7000);
    ASSERT_TRUE(r) << r.error().to_string();
  }

  // Runs until the vCPU stops (halt, shutdown, a kick...), its device accesses recorded in `io`;
  // fails the test on an error.
  hv::Exit run_once() {
    auto exit = vcpu->run(io);
    EXPECT_TRUE(exit) << exit.error().to_string();
    return exit ? *exit : hv::Exit{hv::InternalErrorExit{}};
  }

  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::shared_ptr<hv::GuestRegion> ram;
  hv::GuestMemory memory;
  hv::MemorySlot ram_slot;
  std::unique_ptr<hv::Vcpu> vcpu;
  hv::testing::RecordingIo io;
};

}  // namespace hvtest
