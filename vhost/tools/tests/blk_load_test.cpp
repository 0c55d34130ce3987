// vhost-user-blk-load's parts that need no backend: the latency histogram's buckets and nearest-rank
// percentiles, the sector pattern, the JSON line, and the command line.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "latency_histogram.hpp"
#include "load_options.hpp"
#include "report.hpp"
#include "sector_pattern.hpp"
#include "split_ring_driver.hpp"

namespace hvload {
namespace {

// The nearest-rank percentile of `values` computed the slow, obvious way: sort, take element
// ceil(q * n) (1-based).
std::uint64_t sorted_percentile(std::vector<std::uint64_t> values, std::uint32_t ppm) {
  std::sort(values.begin(), values.end());
  const std::uint64_t n = values.size();
  const std::uint64_t rank = std::max<std::uint64_t>(1, (n * ppm + 999'999) / 1'000'000);
  return values.at(rank - 1);
}

TEST(LatencyHistogram, SmallValuesHaveExactNearestRankPercentiles) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100U);
  EXPECT_EQ(h.percentile(500'000), 50U);   // ceil(0.5 * 100) = 50th value
  EXPECT_EQ(h.percentile(990'000), 99U);   // 99th
  EXPECT_EQ(h.percentile(999'000), 100U);  // ceil(99.9) = 100th
  EXPECT_EQ(h.percentile(1'000'000), 100U);
  EXPECT_EQ(h.percentile(1), 1U);
}

TEST(LatencyHistogram, RankRoundsUpNotToNearest) {
  LatencyHistogram h;
  for (std::uint64_t v : {10, 20, 30}) h.record(v);
  EXPECT_EQ(h.percentile(500'000), 20U);  // ceil(1.5) = 2nd
  EXPECT_EQ(h.percentile(333'333), 10U);  // ceil(0.999999) = 1st
  EXPECT_EQ(h.percentile(333'334), 20U);  // ceil(1.000002) = 2nd
  EXPECT_EQ(h.percentile(990'000), 30U);
}

TEST(LatencyHistogram, EmptyHistogramReportsZero) {
  const LatencyHistogram h;
  EXPECT_EQ(h.percentile(500'000), 0U);
  EXPECT_EQ(h.max(), 0U);
}

TEST(LatencyHistogram, BucketsCoverEveryValueWithBoundedError) {
  std::size_t previous = 0;
  for (std::uint64_t v = 0; v < (1U << 20); v += 1 + v / 97) {
    const std::size_t b = LatencyHistogram::bucket_of(v);
    ASSERT_GE(b, previous) << v;  // monotonic
    previous = b;
    const std::uint64_t top = LatencyHistogram::bucket_top(b);
    ASSERT_GE(top, v);
    ASSERT_LE(top - v, v / 64) << v;  // under 1/64 of the value
    ASSERT_EQ(LatencyHistogram::bucket_of(top), b);
    ASSERT_NE(LatencyHistogram::bucket_of(top + 1), b);
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::bucket_of(std::uint64_t{1} << 40), LatencyHistogram::kBuckets - 1);
  EXPECT_LT(LatencyHistogram::bucket_of((std::uint64_t{1} << 40) - 1), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, PercentilesMatchSortingWithinABucket) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(10.0, 1.0);  // ~22 us median, a long tail
  std::vector<std::uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 20'000; ++i) {
    const auto v = static_cast<std::uint64_t>(latency(random));
    values.push_back(v);
    h.record(v);
  }
  for (std::uint32_t ppm : {1U, 500'000U, 990'000U, 999'000U, 1'000'000U}) {
    const std::uint64_t exact = sorted_percentile(values, ppm);
    const std::uint64_t reported = h.percentile(ppm);
    EXPECT_GE(reported, exact) << ppm;
    EXPECT_LE(reported - exact, exact / 64) << ppm;
    EXPECT_EQ(LatencyHistogram::bucket_of(reported), LatencyHistogram::bucket_of(exact)) << ppm;
  }
  EXPECT_EQ(h.percentile(1'000'000), *std::max_element(values.begin(), values.end()));
}

TEST(LatencyHistogram, MergeIsTheHistogramOfBoth) {
  LatencyHistogram a, b, both;
  for (std::uint64_t v = 0; v < 1000; ++v) {
    (v % 3 == 0 ? a : b).record(v * 37);
    both.record(v * 37);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  for (std::uint32_t ppm : {500'000U, 990'000U, 999'000U}) EXPECT_EQ(a.percentile(ppm), both.percentile(ppm));
}

TEST(SectorPattern, EachSectorHasItsOwnAndAMismatchIsNamed) {
  std::vector<std::uint8_t> data(4096);
  fill_pattern(data, 80);
  EXPECT_FALSE(first_mismatch(data, 80).has_value());
  EXPECT_EQ(first_mismatch(data, 88), std::optional<std::uint64_t>(88));  // read from the wrong place
  std::vector<std::uint8_t> copy(data.begin() + 512, data.begin() + 1024);
  EXPECT_FALSE(first_mismatch(copy, 81).has_value());  // a sector's pattern does not depend on the request
  data.at(3 * 512 + 100) ^= 1;
  EXPECT_EQ(first_mismatch(data, 80), std::optional<std::uint64_t>(83));
}

TEST(Report, JsonHasExactlyTheDocumentedShape) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v * 1);  // nanoseconds, exact buckets
  const Summary s = summarize(h, 4000, std::chrono::seconds(2), 4096);
  EXPECT_DOUBLE_EQ(s.iops, 2000.0);
  EXPECT_DOUBLE_EQ(s.mib_per_s, 2000.0 * 4096 / (1024 * 1024));
  EXPECT_DOUBLE_EQ(s.p50_us, 0.050);
  EXPECT_DOUBLE_EQ(s.p99_us, 0.099);
  EXPECT_EQ(format_json(s),
            "{\"iops\":2000.0, \"mib_per_s\":7.81, \"lat_us\":{\"p50\":0.05, \"p99\":0.10, \"p999\":0.10}}\n");
}

TEST(SplitRingDriver, FootprintKeepsTheUsedRingOnItsOwnPage) {
  EXPECT_EQ(SplitRingDriver::footprint(8), 8192U);
  EXPECT_EQ(SplitRingDriver::footprint(128), 8192U);    // 2048 + 262 bytes, then 1030
  EXPECT_EQ(SplitRingDriver::footprint(1024), 32768U);  // 16384 + 2054 -> 20480; 8198 -> 12288
}

// A Result<bool> as an optional, which gtest compares and prints.
std::optional<bool> got(const hv::Result<bool>& r) { return r ? std::optional<bool>(*r) : std::nullopt; }

// A ring of 8 in fresh memory, with what the device would write done by hand.
struct RingFixture {
  static constexpr std::uint16_t kSize = 8;
  std::shared_ptr<hv::GuestMemory> memory = [] {
    const hv::RegionSpec spec{0, SplitRingDriver::footprint(kSize)};
    return std::make_shared<hv::GuestMemory>(std::move(*hv::GuestMemory::create(std::span(&spec, 1))));
  }();
  SplitRingDriver ring;
  explicit RingFixture(bool event_idx) : ring(memory, 0, kSize, event_idx) {}
  void set_avail_event(std::uint16_t v) { ASSERT_TRUE(memory->write_obj(ring.used_ring() + 4 + 8 * kSize, v)); }
  void set_used_index(std::uint16_t v) { ASSERT_TRUE(memory->write_obj(ring.used_ring() + 2, v)); }
  std::uint16_t used_event() { return memory->read_obj<std::uint16_t>(ring.available_ring() + 4 + 2 * kSize).value(); }
};

// With EVENT_IDX the driver notifies only when its publish crosses the device's avail_event
// (vring_need_event), whatever VRING_USED_F_NO_NOTIFY says.
TEST(SplitRingDriver, EventIdxNotifiesOnlyWhenAvailEventIsCrossed) {
  RingFixture f(true);
  f.set_avail_event(2);  // the device wants to hear of entry 2 (the third)
  ASSERT_TRUE(f.ring.add(0));
  ASSERT_TRUE(f.ring.add(3));
  EXPECT_EQ(got(f.ring.publish()), std::optional<bool>(false));  // entries 0 and 1
  ASSERT_TRUE(f.ring.add(6));
  EXPECT_EQ(got(f.ring.publish()), std::optional<bool>(true));  // entry 2
  ASSERT_TRUE(f.ring.add(0));
  EXPECT_EQ(got(f.ring.publish()), std::optional<bool>(false));            // entry 3: the device has not asked again
  ASSERT_TRUE(f.memory->write_obj<std::uint16_t>(f.ring.used_ring(), 1));  // NO_NOTIFY: ignored with EVENT_IDX
  f.set_avail_event(4);
  ASSERT_TRUE(f.ring.add(3));
  EXPECT_EQ(got(f.ring.publish()), std::optional<bool>(true));
}

// arm() asks for an interrupt at the next used entry (used_event = what was consumed) and says whether
// the device used more meanwhile; without EVENT_IDX it writes nothing.
TEST(SplitRingDriver, ArmSetsUsedEventAndSeesWhatCameMeanwhile) {
  RingFixture f(true);
  EXPECT_EQ(got(f.ring.arm()), std::optional<bool>(false));
  EXPECT_EQ(f.used_event(), 0U);
  f.set_used_index(2);  // two completions, no interrupt consumed
  EXPECT_EQ(got(f.ring.arm()), std::optional<bool>(true));
  ASSERT_TRUE(f.ring.next_used().value());
  ASSERT_TRUE(f.ring.next_used().value());
  EXPECT_FALSE(f.ring.next_used().value());
  EXPECT_EQ(got(f.ring.arm()), std::optional<bool>(false));
  EXPECT_EQ(f.used_event(), 2U);  // interrupt when entry 2 is used

  RingFixture plain(false);
  plain.set_used_index(1);
  EXPECT_EQ(got(plain.ring.arm()), std::optional<bool>(true));
  ASSERT_TRUE(plain.ring.next_used().value());
  EXPECT_EQ(got(plain.ring.arm()), std::optional<bool>(false));
  EXPECT_EQ(plain.used_event(), 0U);
}

hv::Result<ParsedArgs> parse(std::vector<std::string> args) { return parse_args(args); }

TEST(LoadOptions, ParsesEveryOption) {
  auto p = parse({"--socket", "/tmp/s", "--rw=randwrite", "--bs", "8192", "--iodepth", "32", "--queues", "2",
                  "--seconds", "1.5", "--size", "1048576", "--json", "--no-event-idx"});
  ASSERT_TRUE(p) << p.error().to_string();
  const LoadOptions& o = p->options;
  EXPECT_EQ(o.socket, "/tmp/s");
  EXPECT_EQ(o.pattern, AccessPattern::RandWrite);
  EXPECT_EQ(o.block_size, 8192U);
  EXPECT_EQ(o.iodepth, 32U);
  EXPECT_EQ(o.queues, 2U);
  EXPECT_EQ(o.milliseconds, 1500U);
  EXPECT_EQ(o.size, std::optional<std::uint64_t>(1048576));
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.event_idx);
  EXPECT_FALSE(p->help);
}

TEST(LoadOptions, DefaultsAndHelp) {
  auto p = parse({"--socket", "s", "--rw", "read"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->options.block_size, 4096U);
  EXPECT_EQ(p->options.iodepth, 1U);
  EXPECT_EQ(p->options.queues, 1U);
  EXPECT_EQ(p->options.milliseconds, 5000U);
  EXPECT_FALSE(p->options.json);
  EXPECT_TRUE(p->options.event_idx);
  auto help = parse({"--help", "--rw", "nonsense"});
  ASSERT_FALSE(help);  // a bad value is still a usage error...
  auto help_only = parse({"--help"});
  ASSERT_TRUE(help_only);  // ...but --help alone needs nothing else
  EXPECT_TRUE(help_only->help);
}

TEST(LoadOptions, UsageErrorsSayWhatIsWrong) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rw", "read"}, "--socket PATH is required"},
      {{"--socket", "s"}, "--rw MODE is required"},
      {{"--socket", "s", "--rw", "sideways"}, "--rw 'sideways'"},
      {{"--socket", "s", "--rw", "read", "--bs", "1000"}, "--bs '1000': a multiple of 512"},
      {{"--socket", "s", "--rw", "read", "--bs", "2097152"}, "--bs '2097152'"},
      {{"--socket", "s", "--rw", "read", "--iodepth", "0"}, "--iodepth '0'"},
      {{"--socket", "s", "--rw", "read", "--iodepth", "342"}, "--iodepth '342'"},
      {{"--socket", "s", "--rw", "read", "--queues", "17"}, "--queues '17'"},
      {{"--socket", "s", "--rw", "read", "--seconds", "0"}, "--seconds '0'"},
      {{"--socket", "s", "--rw", "read", "--seconds", "1.2345"}, "--seconds '1.2345'"},
      {{"--socket", "s", "--rw", "read", "--seconds", "-1"}, "--seconds '-1'"},
      {{"--socket", "s", "--rw", "read", "--size", "100"}, "--size '100'"},
      {{"--socket", "s", "--rw", "read", "--size", "512"}, "--size is smaller than --bs"},
      {{"--socket", "s", "--rw", "read", "--iodepth"}, "--iodepth needs a value"},
      {{"--socket", "s", "--rw", "read", "--rw", "write"}, "--rw can be given once"},
      {{"--socket", "s", "--rw", "read", "--json=1"}, "--json takes no value"},
      {{"--socket", "s", "--rw", "read", "--verify"}, "unknown option '--verify'"},
      {{"--socket", "s", "--rw", "read", "--iodepth", "4x"}, "--iodepth '4x'"},
  };
  for (const auto& [args, message] : cases) {
    auto p = parse(args);
    ASSERT_FALSE(p) << message;
    EXPECT_EQ(p.error().kind(), hv::ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(p.error().message()).find(message), std::string::npos)
        << "got: " << p.error().message() << " wanted: " << message;
  }
}

}  // namespace
}  // namespace hvload
