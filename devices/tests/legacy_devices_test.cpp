#include <limits>
#include <memory>

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

}  // namespace
