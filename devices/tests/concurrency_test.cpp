// Several threads on one device or bus at once, as several vCPUs (and a VMM's input thread) reach
// them. Each test checks what must hold under every interleaving; none depends on timing. The tsan
// preset runs them under ThreadSanitizer (CTest label `concurrency`, `ctest --preset tsan`), which
// reports any interleaving that is a data race: the proof that each device serialises its state.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hv/testing/recording_vm.hpp"
#include "hv/testing/run_threads.hpp"
#include "hv/dev/bus.hpp"
#include "hv/dev/byte_sink.hpp"
#include "hv/dev/cmos_rtc.hpp"
#include "hv/dev/futex_mutex.hpp"
#include "hv/dev/i8042.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/dev/scratch_device.hpp"
#include "hv/dev/serial_16550.hpp"
#include "recording_line.hpp"

namespace {

// Few threads and rounds: the machine has two cores, and ThreadSanitizer runs code ~10 times slower.
constexpr int kThreads = 4;
constexpr int kRounds = 2000;

std::uint8_t in(hv::dev::BusDevice& d, std::uint64_t offset) {
  std::uint8_t b = 0;
  d.read(offset, std::span(&b, 1));
  return b;
}
void out(hv::dev::BusDevice& d, std::uint64_t offset, std::uint8_t v) {
  d.write(offset, std::span<const std::uint8_t>(&v, 1));
}

using hv::testing::run_threads;

TEST(CmosRtcConcurrency, IndexAndDataFromSeveralVcpus) {
  // The index is shared by all vCPUs, as on hardware: a thread may read another's register, but
  // every read is some register's whole value. The clock counts its calls in a plain int: called
  // from two threads at once, that is a race ThreadSanitizer reports.
  int clock_calls = 0;
  hv::dev::CmosRtc rtc([&] {
    ++clock_calls;
    return std::time_t{1795305015};  // 23:50:15: the seconds register reads 0x15 (BCD)
  });
  std::array<int, kThreads> unexpected{};
  run_threads(kThreads, [&](int t) {
    const auto mine = static_cast<std::uint8_t>(0x40 + t);  // CMOS RAM; each thread writes its index there
    for (int r = 0; r < kRounds; ++r) {
      const bool seconds = r % 4 == 0;
      out(rtc, 0, seconds ? std::uint8_t{0x00} : mine);
      if (!seconds) out(rtc, 1, mine);
      const std::uint8_t v = in(rtc, 1);
      // RAM holds 0 or some thread's value (0x40 + t: the index is shared, so a write may land on
      // another thread's register, or on the seconds, which ignore it); the seconds read 0x15.
      if (v != 0 && v != 0x15 && (v < 0x40 || v >= 0x40 + kThreads)) ++unexpected[static_cast<std::size_t>(t)];
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(unexpected[static_cast<std::size_t>(t)], 0) << "thread " << t;
  EXPECT_GT(clock_calls, 0);
  for (int t = 0; t < kThreads; ++t) {
    out(rtc, 0, static_cast<std::uint8_t>(0x40 + t));
    const std::uint8_t v = in(rtc, 1);
    EXPECT_TRUE(v == 0 || (v >= 0x40 && v < 0x40 + kThreads)) << "index " << 0x40 + t << ": " << int(v);
  }
}

TEST(I8042Concurrency, CommandsAndDrainingFromSeveralVcpus) {
  // Two threads queue bytes (self test 0x55, echo 0xee, command byte 0x45) while two drain them. The
  // line records its level in plain members: an unserialised set_level is a race too.
  auto irq = std::make_shared<hvtest::RecordingLine>();
  int resets = 0;
  hv::dev::I8042 kbc([&] { ++resets; }, irq);
  std::array<int, kThreads> unexpected{};
  run_threads(kThreads, [&](int t) {
    for (int r = 0; r < kRounds; ++r) {
      if (t % 2 == 0) {
        out(kbc, 4, 0xaa);
        out(kbc, 0, 0xee);
        out(kbc, 4, 0x20);
      } else if ((in(kbc, 4) & 0x01) != 0) {
        const std::uint8_t v = in(kbc, 0);
        // 0x00: the buffer was drained by the other thread in between (it reads its last value,
        // which is 0 only before the first byte).
        if (v != 0x55 && v != 0xee && v != 0x45 && v != 0x00) ++unexpected[static_cast<std::size_t>(t)];
      }
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(unexpected[static_cast<std::size_t>(t)], 0) << "thread " << t;
  EXPECT_EQ(resets, 0);
  int left = 0;
  while ((in(kbc, 4) & 0x01) != 0 && left <= static_cast<int>(hv::dev::I8042::kOutputQueue)) {
    const std::uint8_t v = in(kbc, 0);
    EXPECT_TRUE(v == 0x55 || v == 0xee || v == 0x45) << int(v);
    ++left;
  }
  EXPECT_LE(left, static_cast<int>(hv::dev::I8042::kOutputQueue)) << "the queue stayed bounded";
  EXPECT_FALSE(irq->level) << "drained: the line is low";
}

TEST(ScratchConcurrency, AccessesFromSeveralVcpusAreNeverTorn) {
  // Each thread writes 8 copies of its own byte at one unaligned offset of the shared window; every
  // 8-byte read there sees one thread's write whole.
  hv::dev::ScratchDevice scratch(hv::dev::ScratchDevice::kMmioSize);
  constexpr std::uint64_t kOffset = 1001;
  std::array<int, kThreads> torn{};
  run_threads(kThreads, [&](int t) {
    std::array<std::uint8_t, 8> mine{};
    mine.fill(static_cast<std::uint8_t>(t + 1));
    for (int r = 0; r < kRounds; ++r) {
      scratch.write(kOffset, mine);
      std::array<std::uint8_t, 8> seen{};
      scratch.read(kOffset, seen);
      const bool whole = std::all_of(seen.begin(), seen.end(), [&](std::uint8_t b) { return b == seen[0]; });
      if (!whole || seen[0] == 0 || seen[0] > kThreads) ++torn[static_cast<std::size_t>(t)];
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(torn[static_cast<std::size_t>(t)], 0) << "thread " << t;
}

TEST(UartConcurrency, HostInputRacingRegisterAccessesKeepsOrderAndTheLineInStep) {
  // The VMM's input thread feeds the receive FIFO while one vCPU drains it (and toggles the THR
  // interrupt on and off) and another transmits and uses the scratch register. Both the input
  // thread and the vCPUs set the UART's line; the Vm behind it records every level it is given.
  auto vm_ptr = std::make_shared<hv::testing::RecordingVm>();
  auto& vm = *vm_ptr;
  auto sink_ptr = std::make_shared<hv::dev::BufferSink>();
  auto& sink = *sink_ptr;
  hv::dev::Serial16550 uart(sink_ptr, std::make_shared<hv::dev::VmInterruptLine>(vm_ptr, 4));
  constexpr std::uint64_t kData = 0, kIer = 1, kIir = 2, kLsr = 5, kMsr = 6, kScr = 7;
  constexpr std::size_t kBytes = 3000;
  out(uart, kIer, 0x01);  // received-data interrupt
  std::vector<std::uint8_t> sent(kBytes);
  for (std::size_t i = 0; i < kBytes; ++i) sent[i] = static_cast<std::uint8_t>(i % 251);
  std::vector<std::uint8_t> received;  // the draining vCPU's only
  received.reserve(kBytes);
  std::atomic<std::size_t> drained{0};
  int scratch_mismatches = 0;
  run_threads(3, [&](int t) {
    if (t == 0) {
      // The input thread: chunks of 1 to 8 bytes, and every 8th one of 100 (more than the FIFO holds:
      // it waits for room, never buffering more than the FIFO takes). After each chunk it waits,
      // without touching the UART, until the vCPU has drained it: then nothing but the UART's own
      // lock orders this thread's set_level calls with the vCPU's (a next enqueue_input right away
      // would order them through the lock, and ThreadSanitizer could miss an unserialised call).
      std::size_t next = 0;
      for (std::size_t round = 0; next < kBytes; ++round) {
        const std::size_t chunk = std::min(kBytes - next, round % 8 == 7 ? std::size_t{100} : round % 8 + 1);
        for (std::size_t done = 0; done < chunk;) {
          const std::size_t accepted = uart.enqueue_input(std::span(sent).subspan(next + done, chunk - done));
          done += accepted;
          if (accepted == 0) std::this_thread::yield();
        }
        next += chunk;
        while (drained.load() < next) std::this_thread::yield();
      }
    } else if (t == 1) {  // the draining vCPU; only it writes IER, and its last write leaves 0x01
      while (received.size() < kBytes) {
        if ((in(uart, kLsr) & 0x01) != 0) {
          received.push_back(in(uart, kData));
          drained.store(received.size());
        } else {
          out(uart, kIer, 0x03);  // THR empty on: the line rises
          (void)in(uart, kIir);   // acknowledges it
          out(uart, kIer, 0x01);
          std::this_thread::yield();
        }
      }
    } else {  // another vCPU: transmits, and owns the scratch register
      for (int r = 0; r < kRounds; ++r) {
        out(uart, kData, static_cast<std::uint8_t>('a' + r % 26));
        out(uart, kScr, static_cast<std::uint8_t>(r));
        (void)in(uart, kMsr);
        if (in(uart, kScr) != static_cast<std::uint8_t>(r)) ++scratch_mismatches;
      }
    }
  });
  EXPECT_EQ(received, sent) << "every byte arrived once, in order";
  EXPECT_EQ(scratch_mismatches, 0);
  EXPECT_EQ(sink.contents().size(), static_cast<std::size_t>(kRounds));
  // The device ends with an empty FIFO and only the received-data interrupt enabled: no interrupt.
  // Every change of its state was followed, under its lock, by set_level with the new state, so the
  // last level the kernel got is that one, and the levels it got alternate (VmInterruptLine forwards
  // changes only; two calls overtaking each other would show as the same level twice).
  EXPECT_EQ(uart.input_space(), hv::dev::Serial16550::kFifoSize);
  ASSERT_FALSE(vm.lines.empty());
  EXPECT_FALSE(vm.level());
  for (std::size_t i = 0; i < vm.lines.size(); ++i) {
    EXPECT_EQ(vm.lines[i].first, 4U);
    ASSERT_EQ(vm.lines[i].second, i % 2 == 0) << "call " << i << " repeats the level before it";
  }
}

// Blocks a device access until the test lets it go. Lives outside the device, so a test can release
// the access whatever happened to the device.
class Gate {
 public:
  void enter_and_wait() {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  void wait_until_entered() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false, open_ = false;
};

class BlockingDevice final : public hv::dev::BusDevice {
 public:
  explicit BlockingDevice(Gate& gate) : gate_(gate) {}
  void read(std::uint64_t, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), std::uint8_t{0x42});
    gate_.enter_and_wait();  // touches nothing of the device afterwards
  }
  void write(std::uint64_t, std::span<const std::uint8_t>) override {}

 private:
  Gate& gate_;
};

TEST(BusConcurrency, ARemovedDeviceStaysAliveUntilTheAccessInsideItReturns) {
  auto bus = hv::dev::Bus::mmio();
  Gate gate;
  auto device = std::make_shared<BlockingDevice>(gate);
  const std::weak_ptr<BlockingDevice> watch = device;
  ASSERT_TRUE(bus.insert(device, 0x1000, 0x100));
  bool claimed = false;
  std::uint8_t value = 0;
  std::thread vcpu([&] { claimed = bus.read(0x1010, std::span(&value, 1)); });
  gate.wait_until_entered();
  ASSERT_TRUE(bus.remove(0x1000));
  device.reset();  // the VMM's last reference
  EXPECT_FALSE(watch.expired()) << "freed while a vCPU is inside it";
  std::uint8_t after = 0;
  EXPECT_FALSE(bus.read(0x1010, std::span(&after, 1))) << "new accesses no longer reach it";
  gate.open();
  vcpu.join();
  EXPECT_TRUE(claimed);
  EXPECT_EQ(value, 0x42);
  EXPECT_TRUE(watch.expired()) << "freed once the access returned";
}

TEST(BusConcurrency, AnAccessBlockedInOneDeviceDoesNotBlockTheBus) {
  // One vCPU is inside a slow device. Another vCPU's access to another device completes, and so do
  // registering and removing a device (they take the bus lock exclusively: were dispatch holding it
  // during device calls, they would wait for the slow device, and this test would deadlock and fail
  // by CTest's timeout).
  auto bus = hv::dev::Bus::pio();
  Gate gate;
  ASSERT_TRUE(bus.insert(std::make_shared<BlockingDevice>(gate), 0x60, 1));
  auto other = std::make_shared<hv::dev::ScratchDevice>(4);
  ASSERT_TRUE(bus.insert(other, 0xe0, 4));
  std::thread slow([&] {
    std::uint8_t b = 0;
    (void)bus.read(0x60, std::span(&b, 1));
  });
  gate.wait_until_entered();
  const std::uint8_t word[] = {1, 2, 3, 4};
  std::thread fast([&] { EXPECT_TRUE(bus.write(0xe0, word)); });
  fast.join();
  std::uint8_t back[4] = {};
  EXPECT_TRUE(bus.read(0xe0, back));
  EXPECT_EQ(back[3], 4);
  EXPECT_TRUE(bus.insert(std::make_shared<hv::dev::ScratchDevice>(1), 0x80, 1));
  EXPECT_TRUE(bus.remove(0x80));
  gate.open();
  slow.join();
}

TEST(UartConcurrency, LineBufferedOutputOfTwoVcpusAndAFlusherArrivesWholeAndInOrder) {
  // Two vCPUs transmit lines and pieces of lines into the transmit buffer while a VMM thread flushes
  // it, as hv::vmm::Machine's console flusher does: every byte reaches the sink once, and each vCPU's
  // bytes in the order it wrote them.
  auto sink_ptr = std::make_shared<hv::dev::BufferSink>();
  hv::dev::Serial16550 uart(sink_ptr, std::make_shared<hv::dev::NullInterruptLine>(),
                            hv::dev::TransmitBuffering::LineBuffered);
  auto byte_of = [](int vcpu, int round) {
    return round % 40 == 39 ? '\n' : static_cast<char>((vcpu == 0 ? 'a' : 'A') + round % 26);
  };
  std::atomic<int> writing{2};
  int full_buffers = 0;
  run_threads(3, [&](int t) {
    if (t < 2) {
      for (int r = 0; r < kRounds; ++r) out(uart, 0, static_cast<std::uint8_t>(byte_of(t, r)));
      writing.fetch_sub(1);
    } else {
      while (writing.load() > 0) {
        uart.flush_output();
        // Never: a full buffer goes out at once.
        if (uart.buffered_output() >= hv::dev::Serial16550Core::kTransmitBufferSize) ++full_buffers;
        std::this_thread::yield();
      }
    }
  });
  uart.flush_output();
  EXPECT_EQ(full_buffers, 0);
  std::string expected_lower, expected_upper, lower, upper;
  for (int r = 0; r < kRounds; ++r) {
    if (byte_of(0, r) != '\n') expected_lower += byte_of(0, r);
    if (byte_of(1, r) != '\n') expected_upper += byte_of(1, r);
  }
  const std::string all = sink_ptr->contents();
  ASSERT_EQ(all.size(), 2U * kRounds);
  for (const char c : all) {
    if (c >= 'a' && c <= 'z') lower += c;
    if (c >= 'A' && c <= 'Z') upper += c;
  }
  EXPECT_EQ(lower, expected_lower);
  EXPECT_EQ(upper, expected_upper);
}

TEST(FutexMutexConcurrency, ExcludesEveryOtherThreadAndWakesEveryWaiter) {
  // Threads increment a plain counter under the lock, some yielding while they hold it so that others
  // find it taken and sleep: the count is exact, every thread finishes (no lost wake-up), and
  // ThreadSanitizer sees no race on the counter (the lock's acquire and release order the accesses).
  hv::dev::FutexMutex mutex;
  long counter = 0;
  run_threads(kThreads, [&](int t) {
    for (int r = 0; r < kRounds; ++r) {
      std::lock_guard lock(mutex);
      const long seen = counter;
      if ((r + t) % 64 == 0) std::this_thread::yield();
      counter = seen + 1;
    }
  });
  EXPECT_EQ(counter, static_cast<long>(kThreads) * kRounds);
  EXPECT_TRUE(mutex.try_lock());
  EXPECT_FALSE(mutex.try_lock());
  mutex.unlock();
}

}  // namespace
