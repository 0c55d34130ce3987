// A guest that floods the UART with output and a host that floods it with input both hit the
// documented bounds: output stops at the sink's limit, input at the 64-byte receive FIFO.
#include <atomic>
#include <thread>

#include "machine_test_fixture.hpp"

namespace {

using MachineFlood = hvtest::KvmMachineTest;

TEST_F(MachineFlood, GuestOutputFloodStopsAtTheSinkLimit) {
  auto captured = std::make_shared<hv::dev::BufferSink>(1 << 20);
  auto console = std::make_shared<hv::dev::LimitedSink>(
      captured, hv::dev::OutputLimits{.max_total_bytes = 4096, .max_bytes_per_second = 0});
  auto machine = make_machine("flood_uart", console);
  ASSERT_TRUE(machine);
  const auto exit = machine->run();
  EXPECT_EQ(exit.reason, hv::vmm::MachineExit::Reason::DebugExit) << exit.message;
  EXPECT_EQ(captured->contents().size(), 4096U);
  EXPECT_EQ(console->forwarded(), 4096U);
  EXPECT_EQ(console->dropped(), 65536U - 4096U);
}

TEST_F(MachineFlood, HostInputFloodStopsAtTheFifo) {
  auto console = std::make_shared<hv::dev::BufferSink>();
  auto machine = make_machine("uart_echo", console);
  ASSERT_TRUE(machine);
  std::atomic<bool> done{false};
  std::uint64_t offered = 0, accepted = 0;
  std::thread flood([&] {
    const std::vector<std::uint8_t> chunk(1 << 16, 'a');
    while (!done) {
      offered += chunk.size();
      accepted += machine->uart().enqueue_input(chunk);
      std::this_thread::yield();
    }
  });
  const auto exit = machine->run();
  done = true;
  flood.join();
  EXPECT_EQ(exit.reason, hv::vmm::MachineExit::Reason::DebugExit) << exit.message;
  EXPECT_EQ(console->contents(), "AAAAA");
  // The guest consumed 5 bytes; everything else the host offered was refused, not buffered.
  EXPECT_LE(accepted, hv::dev::Serial16550::kFifoSize + 5);
  EXPECT_GT(offered, accepted);
}

}  // namespace
