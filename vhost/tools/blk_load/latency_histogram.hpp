#pragma once
// Request latencies in nanoseconds, counted in buckets with a bounded relative error, and their
// percentiles by the nearest-rank rule.
//
// Buckets: every value below 128 ns has its own; above, each power of two [2^e, 2^(e+1)) is cut into
// 64 equal buckets, so a bucket spans less than 1/64 (1.6 %) of its values. Values from 2^40 ns
// (18 minutes) up share the last bucket. Memory is fixed (a few thousand counters per histogram),
// whatever the run's length, and histograms of several queues merge by adding counts.
//
// percentile(q) is the nearest-rank percentile: the smallest recorded value v such that at least
// ceil(q * n) of the n recorded values are <= v, reported as the highest value of v's bucket (never
// below the true percentile, at most 1/64 above it; exact below 128 ns), and never above the largest
// recorded value (so percentile(1) is the maximum exactly).

#include <array>
#include <cstdint>

namespace hvload {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 6;                                     // 64 buckets per power of two
  static constexpr std::uint64_t kExactBelow = std::uint64_t{2} << kSubBucketBits;  // 128
  static constexpr unsigned kMaxExponent = 40;                                      // 2^40 ns and up: last bucket
  // The exact ones, 64 per power of two from 2^7 to 2^39, and one for 2^40 ns and up.
  static constexpr std::size_t kBuckets =
      kExactBelow + (kMaxExponent - (kSubBucketBits + 1)) * (std::size_t{1} << kSubBucketBits) + 1;

  void record(std::uint64_t nanoseconds) noexcept;
  void merge(const LatencyHistogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  // `parts_per_million` in [1, 1'000'000]: 500'000 is the median, 999'000 p99.9. 0 when empty.
  [[nodiscard]] std::uint64_t percentile(std::uint32_t parts_per_million) const noexcept;

  // The bucket of a value and the highest value a bucket holds (exposed for the tests).
  [[nodiscard]] static std::size_t bucket_of(std::uint64_t nanoseconds) noexcept;
  [[nodiscard]] static std::uint64_t bucket_top(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace hvload
