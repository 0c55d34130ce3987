// The machine's virtio wiring: devices land at 0xd0000000 + 0x1000 * n in order, and on a backend
// with MMIO ioeventfds every queue gets a doorbell, so QueueNotify does not exit (the guest-driven
// virtio-blk CTest then passes only if the doorbell thread delivers the notifications).
#include <gtest/gtest.h>

#include "hv/dev/byte_sink.hpp"
#include "hv/kvm/kvm.hpp"
#include "hv/virtio/console.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/vmm/machine.hpp"

namespace {

TEST(MachineVirtio, DevicesInOrderWithADoorbellPerQueue) {
  auto availability = hv::kvm::probe();
  if (!availability.available) GTEST_SKIP() << "KVM unavailable: " << availability.reason;
  auto hypervisor = hv::kvm::open();
  ASSERT_TRUE(hypervisor);
  auto sink = std::make_shared<hv::dev::BufferSink>();
  hv::vmm::MachineConfig config;
  config.image = {0xf4};  // hlt
  config.load_address = 0x1000;
  config.console = sink;
  config.virtio = {std::make_shared<hv::virtio::RngDevice>(), std::make_shared<hv::virtio::ConsoleDevice>(sink)};
  auto machine = hv::vmm::Machine::create(**hypervisor, std::move(config));
  ASSERT_TRUE(machine) << machine.error().to_string();
  EXPECT_EQ((*machine)->virtio_doorbells(), 3U);  // rng: 1 queue, console: 2
  // Device IDs at offset 8 of each window, in command-line order.
  for (const auto& [base, id] : {std::pair{0xd0000000ULL, 4U}, std::pair{0xd0001000ULL, 3U}}) {
    std::uint8_t bytes[4] = {};
    ASSERT_TRUE((*machine)->devices().mmio().read(base + 8, bytes)) << std::hex << base;
    EXPECT_EQ(bytes[0], id) << std::hex << base;
  }
}

TEST(MachineVirtio, TooManyDevicesOrRamOverTheWindowsAreRefused) {
  auto availability = hv::kvm::probe();
  if (!availability.available) GTEST_SKIP() << "KVM unavailable: " << availability.reason;
  auto hypervisor = hv::kvm::open();
  ASSERT_TRUE(hypervisor);
  auto sink = std::make_shared<hv::dev::BufferSink>();
  hv::vmm::MachineConfig config;
  config.image = {0xf4};
  config.load_address = 0x1000;
  config.console = sink;
  for (int i = 0; i < 9; ++i) config.virtio.push_back(std::make_shared<hv::virtio::RngDevice>());
  auto machine = hv::vmm::Machine::create(**hypervisor, config);
  ASSERT_FALSE(machine);
  EXPECT_EQ(machine.error().kind(), hv::ErrorKind::InvalidArgument);
}

}  // namespace
