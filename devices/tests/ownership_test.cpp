// Devices share what they use (issue 13, "references that must outlive their holders"): a creator
// may drop its own pointers to the sink and the interrupt line as soon as the device has them, and
// the device keeps working. Each test drops everything but the device and then drives it; a device
// that kept a reference instead would write through freed memory here (ASan: heap-use-after-free).

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "hv/dev/byte_sink.hpp"
#include "hv/dev/i8042.hpp"
#include "hv/dev/serial_16550.hpp"
#include "recording_line.hpp"

namespace {

void out(hv::dev::BusDevice& d, std::uint64_t offset, std::uint8_t v) {
  d.write(offset, std::span<const std::uint8_t>(&v, 1));
}
std::uint8_t in(hv::dev::BusDevice& d, std::uint64_t offset) {
  std::uint8_t b = 0;
  d.read(offset, std::span(&b, 1));
  return b;
}

TEST(Ownership, Serial16550KeepsItsSinkAndLineAfterTheCreatorDropsThem) {
  std::weak_ptr<hv::dev::BufferSink> sink_watch;
  std::weak_ptr<hvtest::RecordingLine> line_watch;
  std::unique_ptr<hv::dev::Serial16550> uart;
  {
    auto sink = std::make_shared<hv::dev::BufferSink>();
    auto line = std::make_shared<hvtest::RecordingLine>();
    sink_watch = sink;
    line_watch = line;
    uart = std::make_unique<hv::dev::Serial16550>(sink, line);
  }  // the creator's pointers are gone
  ASSERT_FALSE(sink_watch.expired()) << "the UART keeps its sink";
  ASSERT_FALSE(line_watch.expired()) << "the UART keeps its line";
  out(*uart, 1, 0x02);  // THR-empty interrupt on: the line rises at once
  for (const char c : std::string("still here")) out(*uart, 0, static_cast<std::uint8_t>(c));
  EXPECT_EQ(sink_watch.lock()->contents(), "still here");
  EXPECT_TRUE(line_watch.lock()->level);
  EXPECT_EQ(line_watch.lock()->raised, 1);
  uart.reset();
  EXPECT_TRUE(sink_watch.expired()) << "and releases them with itself";
  EXPECT_TRUE(line_watch.expired());
}

TEST(Ownership, I8042KeepsItsLineAfterTheCreatorDropsIt) {
  std::weak_ptr<hvtest::RecordingLine> line_watch;
  std::unique_ptr<hv::dev::I8042> kbc;
  {
    auto line = std::make_shared<hvtest::RecordingLine>();
    line_watch = line;
    kbc = std::make_unique<hv::dev::I8042>(nullptr, line);
  }
  ASSERT_FALSE(line_watch.expired());
  out(*kbc, 4, 0xaa);  // controller self test: a byte for the guest raises the keyboard interrupt
  EXPECT_TRUE(line_watch.lock()->level);
  EXPECT_EQ(in(*kbc, 0), 0x55);
  EXPECT_FALSE(line_watch.lock()->level);
  kbc.reset();
  EXPECT_TRUE(line_watch.expired());
}

TEST(Ownership, LimitedSinkKeepsItsDestinationAfterTheCreatorDropsIt) {
  std::weak_ptr<hv::dev::BufferSink> inner_watch;
  std::shared_ptr<hv::dev::LimitedSink> limited;
  {
    auto inner = std::make_shared<hv::dev::BufferSink>();
    inner_watch = inner;
    limited = std::make_shared<hv::dev::LimitedSink>(inner, hv::dev::OutputLimits{});
  }
  // A UART on the limiter, as hvctl run builds it; only the UART is left.
  auto uart = std::make_unique<hv::dev::Serial16550>(limited, std::make_shared<hv::dev::NullInterruptLine>());
  limited.reset();
  for (const char c : std::string("ok")) out(*uart, 0, static_cast<std::uint8_t>(c));
  ASSERT_FALSE(inner_watch.expired());
  EXPECT_EQ(inner_watch.lock()->contents(), "ok");
  uart.reset();
  EXPECT_TRUE(inner_watch.expired());
}

// A null sink or line is a caller's bug, caught where it is made rather than at the guest's first write.
TEST(OwnershipDeathTest, NullSinksAndLinesAreRefusedAtConstruction) {
  auto line = std::make_shared<hv::dev::NullInterruptLine>();
  auto sink = std::make_shared<hv::dev::BufferSink>();
  EXPECT_DEATH(hv::dev::Serial16550(nullptr, line), "");
  EXPECT_DEATH(hv::dev::Serial16550(sink, nullptr), "");
  EXPECT_DEATH(hv::dev::I8042(nullptr, nullptr), "");
  EXPECT_DEATH(hv::dev::LimitedSink(nullptr, {}), "");
}

}  // namespace
