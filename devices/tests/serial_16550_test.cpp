#include <memory>
#include <span>
#include <string>

#include <gtest/gtest.h>

#include "hv/dev/serial_16550.hpp"
#include "hv/dev/serial_16550_core.hpp"
#include "recording_line.hpp"

namespace {

class Uart : public ::testing::Test {
 protected:
  std::uint8_t in(std::uint64_t reg) {
    std::uint8_t b = 0;
    uart.read(reg, std::span(&b, 1));
    return b;
  }
  void out(std::uint64_t reg, std::uint8_t v) { uart.write(reg, std::span<const std::uint8_t>(&v, 1)); }

  std::shared_ptr<hv::dev::BufferSink> sink = std::make_shared<hv::dev::BufferSink>();
  std::shared_ptr<hvtest::RecordingLine> irq = std::make_shared<hvtest::RecordingLine>();
  hv::dev::Serial16550 uart{sink, irq};
};

TEST_F(Uart, TransmitsToTheSinkAndAlwaysReportsTransmitterEmpty) {
  for (char c : std::string("hello")) out(0, static_cast<std::uint8_t>(c));
  EXPECT_EQ(sink->contents(), "hello");
  EXPECT_EQ(in(5) & 0x60, 0x60) << "THRE and TEMT";
}

// The register calls reach the same registers as the bus interface, under the same lock.
TEST_F(Uart, RegisterCallsAreTheBusAccessesWithoutTheSpan) {
  uart.write_register(7, 0x5a);
  EXPECT_EQ(in(7), 0x5a) << "written by register call, read through the bus";
  out(7, 0xa5);
  EXPECT_EQ(uart.read_register(7), 0xa5) << "written through the bus, read by register call";
  uart.write_register(0, 'x');
  EXPECT_EQ(sink->contents(), "x");
  EXPECT_EQ(uart.read_register(5) & 0x60, 0x60) << "THRE and TEMT";
  EXPECT_EQ(uart.read_register(8), 0xff) << "past the register block: all-ones, as on the bus";
}

// The sequence the Linux 8250 driver's autoconfig() runs to recognise a 16550A.
TEST_F(Uart, PassesTheLinux8250Probe) {
  out(7, 0xa5);
  EXPECT_EQ(in(7), 0xa5) << "scratch register";
  out(3, 0x80);  // DLAB
  out(0, 0x01);
  out(1, 0x00);
  EXPECT_EQ(in(0), 0x01) << "divisor latch low";
  out(3, 0x03);  // 8N1, DLAB off
  out(4, 0x1a);  // loopback | OUT2 | RTS
  EXPECT_EQ(in(6) & 0xf0, 0x90) << "loopback maps RTS->CTS and OUT2->DCD";
  out(4, 0x1f);
  EXPECT_EQ(in(6) & 0xf0, 0xf0);
  out(4, 0x00);
  out(2, 0x01);  // enable FIFOs
  EXPECT_EQ(in(2) & 0xc0, 0xc0) << "IIR bits 7:6 identify a 16550A with working FIFOs";
  out(2, 0x00);
  EXPECT_EQ(in(2) & 0xc0, 0x00);
}

TEST_F(Uart, LoopbackDeliversToTheReceiverNotTheSink) {
  out(4, 0x10);
  out(0, 'x');
  EXPECT_EQ(sink->contents(), "");
  EXPECT_EQ(in(5) & 0x01, 0x01) << "data ready";
  EXPECT_EQ(in(0), 'x');
  EXPECT_EQ(in(5) & 0x01, 0x00);
  const std::uint8_t host[] = {'h'};
  EXPECT_EQ(uart.enqueue_input(host), 0U) << "the line is disconnected in loopback";
}

TEST_F(Uart, InterruptPrioritiesAndAcknowledgement) {
  out(1, 0x02);  // THR-empty interrupt: pending at once, THR is empty
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(in(2) & 0x0f, 0x02);
  EXPECT_FALSE(irq->level) << "reading IIR acknowledges THR empty";
  EXPECT_EQ(in(2) & 0x0f, 0x01);
  out(1, 0x07);  // + received data + line status
  const std::uint8_t host[] = {'a'};
  ASSERT_EQ(uart.enqueue_input(host), 1U);
  EXPECT_EQ(in(2) & 0x0f, 0x04) << "received data outranks THR empty";
  EXPECT_EQ(in(0), 'a');
  // Loopback overrun: fill the FIFO, one more byte is lost and flagged.
  out(4, 0x10);
  for (std::size_t i = 0; i <= hv::dev::Serial16550::kFifoSize; ++i) out(0, static_cast<std::uint8_t>(i));
  EXPECT_EQ(in(2) & 0x0f, 0x06) << "line status (overrun) outranks everything";
  EXPECT_EQ(in(5) & 0x02, 0x02) << "LSR reports the overrun";
  EXPECT_EQ(in(5) & 0x02, 0x00) << "and reading LSR clears it";
  EXPECT_EQ(in(2) & 0x0f, 0x04);
}

TEST_F(Uart, HostInputIsBoundedByTheFifo) {
  std::string flood(1 << 20, 'z');
  std::size_t accepted = 0;
  for (int round = 0; round < 100; ++round) {
    accepted += uart.enqueue_input(std::span(reinterpret_cast<const std::uint8_t*>(flood.data()), flood.size()));
  }
  EXPECT_EQ(accepted, hv::dev::Serial16550::kFifoSize) << "a host flood stops at 64 bytes: the caller keeps the rest";
  EXPECT_EQ(uart.input_space(), 0U);
  EXPECT_EQ(in(0), 'z');
  EXPECT_EQ(uart.input_space(), 1U);
}

TEST_F(Uart, FifoResetAndWideAccesses) {
  const std::uint8_t host[] = {'1', '2'};
  ASSERT_EQ(uart.enqueue_input(host), 2U);
  out(2, 0x03);  // enable + clear receive FIFO
  EXPECT_EQ(in(5) & 0x01, 0);
  std::uint8_t wide[2] = {};
  uart.read(0, wide);
  EXPECT_EQ(wide[0], 0xff) << "16-bit accesses do not reach registers";
  const std::uint8_t bytes[] = {'A', 'B'};
  uart.write(0, bytes);
  EXPECT_EQ(sink->contents(), "");
  uart.write(99, std::span(bytes, 1));  // beyond the register block
  EXPECT_EQ(sink->contents(), "");
}

// The line is called when its level changes and at no other access: a VMM's line is an ioctl or an
// eventfd write, and the guest's polling and transmitting leave the level where it is.
TEST_F(Uart, TheLineIsCalledOnlyWhenItsLevelChanges) {
  out(7, 0x11);
  out(3, 0x03);
  (void)in(5);
  (void)in(6);
  for (char c : std::string("quiet")) out(0, static_cast<std::uint8_t>(c));
  EXPECT_EQ(irq->calls, 0) << "no interrupt enabled: the line stays low without a call";
  out(1, 0x02);  // THR empty: pending at once
  EXPECT_EQ(irq->calls, 1);
  EXPECT_TRUE(irq->level);
  for (char c : std::string("still pending")) out(0, static_cast<std::uint8_t>(c));
  (void)in(5);
  out(1, 0x02);
  EXPECT_EQ(irq->calls, 1) << "THR empty stays pending: the level does not change";
  EXPECT_EQ(in(2) & 0x0f, 0x02);  // acknowledges
  EXPECT_EQ(irq->calls, 2);
  EXPECT_FALSE(irq->level);
  out(1, 0x01);  // received data only
  const std::uint8_t host[] = {'a', 'b', 'c'};
  ASSERT_EQ(uart.enqueue_input(host), 3U);
  EXPECT_EQ(irq->calls, 3);
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(in(0), 'a');
  EXPECT_EQ(in(0), 'b');
  (void)in(2);
  (void)in(5);
  EXPECT_EQ(irq->calls, 3) << "data still waits: the level does not change";
  EXPECT_EQ(in(0), 'c');
  EXPECT_EQ(irq->calls, 4) << "the last byte ends the condition";
  EXPECT_FALSE(irq->level);
  EXPECT_EQ(in(0), 0);
  EXPECT_EQ(irq->calls, 4);
}

// The unlocked core with a transmit buffer, as a VMM that serialises its calls (or Serial16550 with
// TransmitBuffering::LineBuffered) runs it.
class LineBufferedUart : public ::testing::Test {
 protected:
  void print(const std::string& text) {
    for (char c : text) uart.write(0, static_cast<std::uint8_t>(c));
  }
  std::shared_ptr<hv::dev::BufferSink> sink = std::make_shared<hv::dev::BufferSink>();
  hv::dev::Serial16550Core uart{sink, std::make_shared<hvtest::RecordingLine>(),
                                hv::dev::TransmitBuffering::LineBuffered};
};

TEST_F(LineBufferedUart, ALineReachesTheSinkAtItsNewline) {
  print("hello");
  EXPECT_EQ(sink->contents(), "");
  EXPECT_EQ(uart.buffered_output(), 5U);
  EXPECT_EQ(uart.read(5) & 0x60, 0x60) << "THR and the transmitter read empty: the guest cannot tell";
  print("\n");
  EXPECT_EQ(sink->contents(), "hello\n");
  EXPECT_EQ(uart.buffered_output(), 0U);
}

TEST_F(LineBufferedUart, APromptWithoutANewlineReachesTheSinkOnFlush) {
  print("login: ");
  EXPECT_EQ(sink->contents(), "");
  uart.flush_output();
  EXPECT_EQ(sink->contents(), "login: ");
  uart.flush_output();  // nothing left: nothing written twice
  EXPECT_EQ(sink->contents(), "login: ");
}

TEST_F(LineBufferedUart, AFullBufferReachesTheSinkInOnePiece) {
  const std::string line(hv::dev::Serial16550Core::kTransmitBufferSize - 1, 'x');
  print(line);
  EXPECT_EQ(sink->contents(), "");
  print("y");
  EXPECT_EQ(sink->contents(), line + "y");
  EXPECT_EQ(uart.buffered_output(), 0U);
}

TEST(LineBufferedUartLifetime, DestructionHandsOverWhatIsLeft) {
  auto sink = std::make_shared<hv::dev::BufferSink>();
  {
    hv::dev::Serial16550 uart(sink, std::make_shared<hv::dev::NullInterruptLine>(),
                              hv::dev::TransmitBuffering::LineBuffered);
    for (char c : std::string("bye")) {
      const auto byte = static_cast<std::uint8_t>(c);
      uart.write(0, std::span(&byte, 1));
    }
    EXPECT_EQ(sink->contents(), "");
    EXPECT_EQ(uart.buffered_output(), 3U);
  }
  EXPECT_EQ(sink->contents(), "bye");
}

// Limits count bytes, not writes: a buffered line is cut at the same byte as one written byte by byte.
TEST_F(LineBufferedUart, ALimitedSinkCutsBufferedOutputAtTheSameByte) {
  auto inner = std::make_shared<hv::dev::BufferSink>();
  auto limited = std::make_shared<hv::dev::LimitedSink>(inner, hv::dev::OutputLimits{.max_total_bytes = 300});
  hv::dev::Serial16550Core limited_uart(limited, std::make_shared<hv::dev::NullInterruptLine>(),
                                        hv::dev::TransmitBuffering::LineBuffered);
  const std::string text(1000, 'z');
  for (char c : text) limited_uart.write(0, static_cast<std::uint8_t>(c));
  limited_uart.flush_output();
  EXPECT_EQ(inner->contents(), std::string(300, 'z'));
  EXPECT_EQ(limited->forwarded(), 300U);
  EXPECT_EQ(limited->dropped(), 700U);
}

// Once bytes are being buffered, the registers that change where a THR write goes still take effect.
TEST_F(LineBufferedUart, LoopbackAndTheDivisorLatchBypassTheBuffer) {
  print("ab");
  uart.write(4, 0x10);  // loopback
  print("x");
  EXPECT_EQ(uart.buffered_output(), 2U);
  EXPECT_EQ(uart.read(0), 'x');
  uart.write(4, 0x00);
  uart.write(3, 0x83);  // DLAB
  uart.write(0, 0x01);
  EXPECT_EQ(uart.read(0), 0x01) << "divisor latch low";
  uart.write(3, 0x03);
  print("c");
  uart.flush_output();
  EXPECT_EQ(sink->contents(), "abc");
}

TEST_F(LineBufferedUart, TheThrInterruptStillRisesAfterAnAcknowledgementWhileBuffering) {
  auto line = std::make_shared<hvtest::RecordingLine>();
  hv::dev::Serial16550Core irq_uart(sink, line, hv::dev::TransmitBuffering::LineBuffered);
  irq_uart.write(1, 0x02);  // THR empty on: pending
  irq_uart.write(0, 'a');
  EXPECT_EQ(irq_uart.read(2) & 0x0f, 0x02);  // acknowledged
  EXPECT_FALSE(line->level);
  irq_uart.write(0, 'b');
  EXPECT_TRUE(line->level) << "a transmitted byte empties THR again: the interrupt is pending";
  EXPECT_EQ(line->raised, 2);
  irq_uart.flush_output();
  EXPECT_EQ(sink->contents(), "ab");
}

TEST(Serial16550Core, OffsetsPastTheBlockReadAllOnesAndAreIgnored) {
  auto sink = std::make_shared<hv::dev::BufferSink>();
  hv::dev::Serial16550Core uart(sink, std::make_shared<hv::dev::NullInterruptLine>());
  uart.write(8, 'a');
  uart.write(99, 'a');
  EXPECT_EQ(uart.read(8), 0xff);
  EXPECT_EQ(uart.read(~std::uint64_t{0}), 0xff);
  EXPECT_EQ(sink->contents(), "");
  uart.write(0, 'a');
  EXPECT_EQ(sink->contents(), "a") << "Unbuffered by default";
}

}  // namespace
