#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>
#include <unistd.h>

#include <gtest/gtest.h>

#include "hv/dev/byte_sink.hpp"

namespace {

TEST(LimitedSink, TotalLimitDropsTheRest) {
  auto inner = std::make_shared<hv::dev::BufferSink>();
  hv::dev::LimitedSink sink(inner, {.max_total_bytes = 10, .max_bytes_per_second = 0});
  const std::string chunk = "0123456";
  for (int i = 0; i < 1000; ++i)
    sink.write(std::span(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size()));
  EXPECT_EQ(inner->contents(), "0123456012");
  EXPECT_EQ(sink.forwarded(), 10U);
  EXPECT_EQ(sink.dropped(), 7000U - 10U);
}

TEST(LimitedSink, RateLimitAllowsOneSecondBurstThenTheRate) {
  auto inner = std::make_shared<hv::dev::BufferSink>();
  auto now = std::chrono::steady_clock::time_point{};
  hv::dev::LimitedSink sink(inner, {.max_total_bytes = 0, .max_bytes_per_second = 100}, [&] { return now; });
  const std::vector<std::uint8_t> big(1000, 'x');
  sink.write(big);
  EXPECT_EQ(sink.forwarded(), 100U) << "burst of one second's worth";
  sink.write(big);
  EXPECT_EQ(sink.forwarded(), 100U) << "no time passed";
  now += std::chrono::milliseconds(500);
  sink.write(big);
  EXPECT_EQ(sink.forwarded(), 150U);
}

// README, hvctl's usage text and docs/threat-model/{serial-16550,virtio-console}.md state these numbers.
TEST(OutputLimits, ConsoleDefaultsAre64MiBInAllAnd1MiBPerSecond) {
  EXPECT_EQ(hv::dev::kDefaultConsoleLimits.max_total_bytes, 64ULL << 20);
  EXPECT_EQ(hv::dev::kDefaultConsoleLimits.max_bytes_per_second, 1ULL << 20);
}

// Counts what reaches it.
class CountingSink final : public hv::dev::ByteSink {
 public:
  void write(std::span<const std::uint8_t> bytes) override { count += bytes.size(); }
  std::uint64_t count = 0;
};

TEST(OutputLimits, ConsoleDefaultsStopAFloodAtTheRateThenAtTheTotal) {
  auto inner = std::make_shared<CountingSink>();
  auto now = std::chrono::steady_clock::time_point{};
  hv::dev::LimitedSink sink(inner, hv::dev::kDefaultConsoleLimits, [&] { return now; });
  const std::vector<std::uint8_t> chunk(64 * 1024, 'f');
  for (int i = 0; i < 256; ++i) sink.write(chunk);  // 16 MiB at once: one second's burst gets through
  EXPECT_EQ(sink.forwarded(), 1ULL << 20);
  for (int second = 0; second < 100; ++second) {  // 100 s of the same flood: 1 MiB/s until 64 MiB
    now += std::chrono::seconds(1);
    for (int i = 0; i < 256; ++i) sink.write(chunk);
  }
  EXPECT_EQ(sink.forwarded(), 64ULL << 20);
  EXPECT_EQ(inner->count, 64ULL << 20);
  EXPECT_EQ(sink.dropped(), 101 * (16ULL << 20) - (64ULL << 20));
}

TEST(BufferSink, IsBounded) {
  hv::dev::BufferSink sink(8);
  const std::vector<std::uint8_t> big(100, 'y');
  sink.write(big);
  EXPECT_EQ(sink.contents().size(), 8U);
}

TEST(FdSink, NeverBlocksOnAFullPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  hv::dev::FdSink sink(fds[1]);
  const std::vector<std::uint8_t> chunk(4096, 'p');
  for (int i = 0; i < 1024; ++i) sink.write(chunk);  // 4 MiB into a pipe nobody reads (64 KiB buffer)
  EXPECT_GT(sink.dropped(), 0U) << "what the pipe could not take was dropped, not waited for";
  ::close(fds[0]);
  sink.write(chunk);  // reader gone: EPIPE (SIGPIPE ignored below), dropped, no crash
  ::close(fds[1]);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // as hvctl does
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
