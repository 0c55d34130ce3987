#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hv/dev/cmos_rtc.hpp"
#include "hv/dev/debug_exit.hpp"
#include "hv/dev/i8042.hpp"
#include "hv/dev/scratch_device.hpp"
#include "recording_line.hpp"

namespace {

std::uint8_t in(hv::dev::BusDevice& d, std::uint64_t offset) {
  std::uint8_t b = 0;
  d.read(offset, std::span(&b, 1));
  return b;
}
void out(hv::dev::BusDevice& d, std::uint64_t offset, std::uint8_t v) {
  d.write(offset, std::span<const std::uint8_t>(&v, 1));
}

TEST(I8042, ResetCommandRequestsAReset) {
  int resets = 0;
  auto irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::I8042 kbc([&] { ++resets; }, irq);
  out(kbc, 4, 0xfe);
  EXPECT_EQ(resets, 1);
  out(kbc, 4, 0xd1);  // write output port ...
  out(kbc, 0, 0x01);  // ... with the reset line inactive: no reset
  EXPECT_EQ(resets, 1);
  out(kbc, 4, 0xd1);
  out(kbc, 0, 0x00);  // reset line asserted
  EXPECT_EQ(resets, 2);
}

TEST(I8042, SelfTestsCommandByteAndKeyboardReset) {
  auto irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::I8042 kbc(nullptr, irq);
  EXPECT_EQ(in(kbc, 4) & 0x01, 0) << "output buffer empty";
  out(kbc, 4, 0xaa);
  EXPECT_EQ(in(kbc, 4) & 0x01, 1);
  EXPECT_EQ(in(kbc, 0), 0x55);
  out(kbc, 4, 0x60);
  out(kbc, 0, 0x47);
  out(kbc, 4, 0x20);
  EXPECT_EQ(in(kbc, 0), 0x47);
  out(kbc, 0, 0xff);  // keyboard reset
  EXPECT_TRUE(irq->level) << "keyboard interrupt enabled in the command byte";
  EXPECT_EQ(in(kbc, 0), 0xfa);
  EXPECT_EQ(in(kbc, 0), 0xaa);
  EXPECT_FALSE(irq->level);
}

TEST(I8042, OutputQueueIsBounded) {
  auto irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::I8042 kbc(nullptr, irq);
  for (int i = 0; i < 10000; ++i) out(kbc, 0, 0xee);  // echo, never read
  int drained = 0;
  while ((in(kbc, 4) & 0x01) != 0 && drained < 100) {
    (void)in(kbc, 0);
    ++drained;
  }
  EXPECT_EQ(drained, static_cast<int>(hv::dev::I8042::kOutputQueue));
}

TEST(I8042, WideAndBetweenPortAccessesReadAllOnesAndChangeNothing) {
  int resets = 0;
  auto irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::I8042 kbc([&] { ++resets; }, irq);
  out(kbc, 4, 0xaa);  // self test: 0x55 waits in the output buffer, the line is raised
  const std::uint8_t status = in(kbc, 4);
  ASSERT_EQ(status & 0x01, 1);
  ASSERT_EQ(irq->raised, 1);
  // Reads wider than a byte at either port, and byte reads between the ports, are all-ones.
  for (const std::uint64_t offset : {0, 4}) {
    for (const std::size_t width : {2, 4, 8}) {
      std::vector<std::uint8_t> wide(width, 0);
      kbc.read(offset, wide);
      EXPECT_EQ(wide, std::vector<std::uint8_t>(width, 0xff)) << "offset " << offset << " width " << width;
    }
  }
  for (const std::uint64_t offset : {1, 2, 3}) EXPECT_EQ(in(kbc, offset), 0xff) << "offset " << offset;
  // Writes of the same kind are ignored, even of a reset (0xfe), a two-byte command's first byte
  // (0xd1, 0x60) or a keyboard command (0xff, 0xee: each would queue bytes).
  for (const std::uint8_t value : std::initializer_list<std::uint8_t>{0xfe, 0xd1, 0x60, 0xaa, 0xff, 0xee, 0x00}) {
    for (const std::uint64_t offset : {0, 4}) {
      for (const std::size_t width : {2, 4, 8}) kbc.write(offset, std::vector<std::uint8_t>(width, value));
    }
    for (const std::uint64_t offset : {1, 2, 3}) out(kbc, offset, value);
  }
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(irq->raised, 1);
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(in(kbc, 4), status) << "status (and its last-write-was-a-command bit) unchanged";
  EXPECT_EQ(in(kbc, 0), 0x55) << "the output buffer holds what it held";
  EXPECT_EQ(in(kbc, 4) & 0x01, 0) << "and nothing more";
  out(kbc, 0, 0xee);  // echo: no command is pending to take this byte
  EXPECT_EQ(in(kbc, 0), 0xee);
}

TEST(I8042, AResetCallbackThatUsesTheDeviceReturns) {
  // The VMM's callback may reach the device again (a vCPU stopping inside it, here the callback
  // itself): it runs after the device's lock is released. Were it called under the lock, this test
  // would deadlock and fail by CTest's timeout (ThreadSanitizer reports the double lock at once).
  auto irq = std::make_shared<hvtest::RecordingLine>();
  std::unique_ptr<hv::dev::I8042> kbc;
  int resets = 0;
  std::uint8_t status_seen = 0;
  kbc = std::make_unique<hv::dev::I8042>(
      [&] {
        ++resets;
        status_seen = in(*kbc, 4);
        out(*kbc, 4, 0xaa);  // self test from inside the callback
      },
      irq);
  out(*kbc, 4, 0xfe);
  ASSERT_EQ(resets, 1);
  EXPECT_EQ(status_seen & 0x08, 0x08) << "the callback read the status of the 0xfe command write";
  EXPECT_EQ(in(*kbc, 0), 0x55) << "the callback's command was served";
  out(*kbc, 4, 0xd1);
  out(*kbc, 0, 0x00);  // output port with the reset line asserted
  EXPECT_EQ(resets, 2);
  EXPECT_EQ(in(*kbc, 0), 0x55);
}

TEST(I8042, ResetRequestsWithoutACallbackAreIgnored) {
  auto irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::I8042 kbc(nullptr, irq);  // an empty std::function would throw bad_function_call if called
  out(kbc, 4, 0xfe);
  out(kbc, 4, 0xd1);
  out(kbc, 0, 0x00);
  out(kbc, 0, 0xee);  // the output-port write consumed 0xd1's pending state: this is an echo
  EXPECT_EQ(in(kbc, 0), 0xee);
  out(kbc, 4, 0xaa);
  EXPECT_EQ(in(kbc, 0), 0x55) << "the controller still answers";
}

TEST(CmosRtc, BcdBinaryAnd12HourModes) {
  // 2026-11-21 23:50:15 UTC, a Saturday.
  hv::dev::CmosRtc rtc([] { return std::time_t{1795305015}; });
  auto reg = [&](std::uint8_t index) {
    out(rtc, 0, index);
    return in(rtc, 1);
  };
  EXPECT_EQ(reg(0x00), 0x15);
  EXPECT_EQ(reg(0x02), 0x50);
  EXPECT_EQ(reg(0x04), 0x23);
  EXPECT_EQ(reg(0x06), 0x07) << "Saturday";
  EXPECT_EQ(reg(0x07), 0x21);
  EXPECT_EQ(reg(0x08), 0x11);
  EXPECT_EQ(reg(0x09), 0x26);
  EXPECT_EQ(reg(0x32), 0x20);
  EXPECT_EQ(reg(0x0d), 0x80) << "valid RAM and time";
  out(rtc, 0, 0x0b);
  out(rtc, 1, 0x04);  // binary, 12-hour
  EXPECT_EQ(reg(0x00), 15);
  EXPECT_EQ(reg(0x04), 0x80 | 11) << "11 PM";
  out(rtc, 0, 0x0b);
  out(rtc, 1, 0x00);  // BCD, 12-hour
  EXPECT_EQ(reg(0x04), 0x80 | 0x11);
}

TEST(CmosRtc, ClockValuesGmtimeCannotRepresentStayDefined) {
  for (std::time_t t : {std::numeric_limits<std::time_t>::max(), std::numeric_limits<std::time_t>::min(),
                        std::time_t{67767976233532799}, std::time_t{-62135596800}}) {
    hv::dev::CmosRtc rtc([t] { return t; });
    for (std::uint8_t index : {std::uint8_t{0x00}, std::uint8_t{0x04}, std::uint8_t{0x09}, std::uint8_t{0x32}}) {
      out(rtc, 0, index);
      const auto v = in(rtc, 1);
      EXPECT_LE(v & 0x0f, 9) << "index " << int(index);  // still BCD digits (UBSan checks the arithmetic)
    }
  }
}

TEST(CmosRtc, RamIndexMaskAndReadOnlyRegisters) {
  hv::dev::CmosRtc rtc([] { return std::time_t{0}; });
  out(rtc, 0, 0x80 | 0x40);  // NMI-disable bit is not part of the index
  out(rtc, 1, 0x5a);
  out(rtc, 0, 0x40);
  EXPECT_EQ(in(rtc, 1), 0x5a);
  out(rtc, 0, 0x00);
  out(rtc, 1, 0x33);  // time registers follow the host clock
  EXPECT_EQ(in(rtc, 1), 0x00);
  std::uint8_t wide[2];
  rtc.read(1, wide);
  EXPECT_EQ(wide[0], 0xff);
}

// Sets TZ for one test and restores it.
class ScopedTimezone {
 public:
  explicit ScopedTimezone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTimezone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ScopedTimezone(const ScopedTimezone&) = delete;
  ScopedTimezone& operator=(const ScopedTimezone&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(CmosRtc, TimeIsUtcWhateverTheHostTimezone) {
  // 2026-11-21 23:50:15 UTC, a Saturday; in UTC+9 it is already Sunday the 22nd, 08:50.
  constexpr std::time_t kNow = 1795305015;
  const ScopedTimezone tz("HVK-9");  // POSIX form: no zone database needed
  std::tm local{};
  ASSERT_NE(localtime_r(&kNow, &local), nullptr);
  ASSERT_EQ(local.tm_hour, 8) << "the host's local time must differ from UTC for this test to mean anything";
  hv::dev::CmosRtc rtc([] { return kNow; });
  auto reg = [&](std::uint8_t index) {
    out(rtc, 0, index);
    return in(rtc, 1);
  };
  EXPECT_EQ(reg(0x04), 0x23) << "hours";
  EXPECT_EQ(reg(0x02), 0x50) << "minutes";
  EXPECT_EQ(reg(0x06), 0x07) << "Saturday";
  EXPECT_EQ(reg(0x07), 0x21) << "day of month";
}

TEST(CmosRtc, EachDataPortReadCallsTheClockAtMostOnce) {
  int calls = 0;
  hv::dev::CmosRtc rtc([&] {
    ++calls;
    return std::time_t{1795305015};
  });
  for (unsigned index = 0; index < 256; ++index) {  // every index, with and without the NMI-mask bit
    out(rtc, 0, static_cast<std::uint8_t>(index));
    EXPECT_EQ(calls, 0) << "an index write reads no clock";
    (void)in(rtc, 1);
    EXPECT_LE(calls, 1) << "index " << index;
    calls = 0;
  }
  out(rtc, 0, 0x00);  // seconds
  (void)in(rtc, 1);
  EXPECT_EQ(calls, 1) << "a time register does read the clock";
  calls = 0;
  (void)in(rtc, 0);  // the index port
  std::uint8_t wide[4];
  rtc.read(1, wide);
  out(rtc, 1, 0x12);
  EXPECT_EQ(calls, 0) << "index-port reads, wide reads and writes read no clock";
}

TEST(CmosRtc, RamOfANewDeviceReadsZero) {
  // What one VM (or one run) wrote never reaches the next: fill a device's RAM, free it, and read a
  // new one (the allocator tends to hand back the same memory).
  constexpr std::uint8_t kNotRam[] = {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0d, 0x32};
  auto is_ram = [&](unsigned index) {
    return std::find(std::begin(kNotRam), std::end(kNotRam), index) == std::end(kNotRam);
  };
  auto used = std::make_unique<hv::dev::CmosRtc>([] { return std::time_t{0}; });
  for (unsigned index = 0; index < 128; ++index) {
    out(*used, 0, static_cast<std::uint8_t>(index));
    out(*used, 1, 0xa5);
  }
  out(*used, 0, 0x40);
  ASSERT_EQ(in(*used, 1), 0xa5);
  used.reset();
  auto fresh = std::make_unique<hv::dev::CmosRtc>([] { return std::time_t{0}; });
  for (unsigned index = 0; index < 128; ++index) {
    if (!is_ram(index)) continue;  // time, date, status A, B and D
    out(*fresh, 0, static_cast<std::uint8_t>(index));
    EXPECT_EQ(in(*fresh, 1), 0) << "index " << index;
  }
}

TEST(DebugExit, ValueIsTheExitStatus) {
  std::vector<std::uint32_t> statuses;
  hv::dev::DebugExit port([&](std::uint32_t s) { statuses.push_back(s); });
  out(port, 0, 3);
  const std::uint8_t word[] = {0x34, 0x12};
  port.write(0, word);
  out(port, 1, 9);  // not the port itself
  EXPECT_EQ(statuses, (std::vector<std::uint32_t>{3, 0x1234}));
}

TEST(ScratchDevice, ReadsBackAtAnyWidthAndAlignment) {
  hv::dev::ScratchDevice scratch(4096);
  const std::uint8_t v[] = {1, 2, 3, 4, 5, 6, 7, 8};
  scratch.write(4093, std::span(v, 3));
  std::uint8_t b[2];
  scratch.read(4094, b);
  EXPECT_EQ(b[0], 2);
  EXPECT_EQ(b[1], 3);
  std::uint8_t outside[8];
  scratch.read(4092, outside);
  EXPECT_EQ(outside[0], 0xff) << "an access past the end is refused whole";
}

TEST(ScratchDevice, ANewWindowReadsZeroEverywhere) {
  // It never exposes host memory: a new window is zero even where a freed one held guest data.
  auto used = std::make_unique<hv::dev::ScratchDevice>(4096);
  for (std::uint64_t offset = 0; offset < 4096; offset += 8) {
    const std::uint8_t pattern[8] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
    used->write(offset, pattern);
  }
  used.reset();
  hv::dev::ScratchDevice fresh(4096);
  for (const std::size_t width : {1, 2, 4, 8}) {
    for (std::uint64_t offset = 0; offset + width <= 4096; ++offset) {
      std::uint8_t bytes[8] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
      fresh.read(offset, std::span(bytes, width));
      for (std::size_t i = 0; i < width; ++i) ASSERT_EQ(bytes[i], 0) << "offset " << offset << " width " << width;
    }
  }
}

}  // namespace
