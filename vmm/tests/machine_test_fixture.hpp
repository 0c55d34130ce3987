#pragma once
// A GoogleTest fixture for Machine tests on KVM: skips when KVM is unavailable, and builds a Machine
// running one of vmm/tests/guests (assembled to HVKIT_TEST_GUESTS/<name>.bin, linked at 0x1000).

#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "hv/kvm/kvm.hpp"
#include "hv/vmm/machine.hpp"

namespace hvtest {

inline std::vector<std::uint8_t> test_guest(const char* name) {
  std::ifstream f(std::string(HVKIT_TEST_GUESTS) + "/" + name + ".bin", std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class KvmMachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto availability = hv::kvm::probe();
    if (!availability.available) GTEST_SKIP() << "KVM unavailable: " << availability.reason;
    auto h = hv::kvm::open();
    ASSERT_TRUE(h);
    hypervisor = std::move(*h);
  }
  // A machine running test guest `name` with its UART on `console` (which the UART shares).
  std::unique_ptr<hv::vmm::Machine> make_machine(const char* name, std::shared_ptr<hv::dev::ByteSink> console) {
    hv::vmm::MachineConfig config;
    config.image = test_guest(name);
    EXPECT_FALSE(config.image.empty()) << name;
    config.load_address = 0x1000;
    config.console = std::move(console);
    auto machine = hv::vmm::Machine::create(*hypervisor, config);
    EXPECT_TRUE(machine) << machine.error().to_string();
    return machine ? std::move(*machine) : nullptr;
  }
  std::unique_ptr<hv::Hypervisor> hypervisor;
};

}  // namespace hvtest
