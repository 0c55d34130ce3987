#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>

namespace hvload {

std::size_t LatencyHistogram::bucket_of(std::uint64_t nanoseconds) noexcept {
  if (nanoseconds < kExactBelow) return nanoseconds;
  const auto exponent = static_cast<unsigned>(std::bit_width(nanoseconds)) - 1;  // >= kSubBucketBits + 1
  if (exponent >= kMaxExponent) return kBuckets - 1;
  const unsigned shift = exponent - kSubBucketBits;
  const std::uint64_t sub = (nanoseconds >> shift) - (std::uint64_t{1} << kSubBucketBits);  // 0..63
  return kExactBelow + (exponent - (kSubBucketBits + 1)) * (std::size_t{1} << kSubBucketBits) + sub;
}

std::uint64_t LatencyHistogram::bucket_top(std::size_t bucket) noexcept {
  if (bucket < kExactBelow) return bucket;
  if (bucket >= kBuckets - 1) return UINT64_MAX;
  const std::size_t above = bucket - kExactBelow;
  const unsigned exponent = static_cast<unsigned>(above >> kSubBucketBits) + kSubBucketBits + 1;
  const std::uint64_t sub = above & ((std::uint64_t{1} << kSubBucketBits) - 1);
  const unsigned shift = exponent - kSubBucketBits;
  const std::uint64_t mantissa = (std::uint64_t{1} << kSubBucketBits) + sub;
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::record(std::uint64_t nanoseconds) noexcept {
  ++counts_.at(bucket_of(nanoseconds));
  ++count_;
  min_ = std::min(min_, nanoseconds);
  max_ = std::max(max_, nanoseconds);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_.at(i) += other.counts_.at(i);
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(std::uint32_t parts_per_million) const noexcept {
  if (count_ == 0) return 0;
  parts_per_million = std::clamp<std::uint32_t>(parts_per_million, 1, 1'000'000);
  // rank = ceil(q * n), in integers: n < 2^64 / 10^6 for any run this tool can make (2^44 requests).
  const std::uint64_t rank = std::max<std::uint64_t>(1, (count_ * parts_per_million + 999'999) / 1'000'000);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_.at(i);
    if (seen >= rank) return std::min(bucket_top(i), max_);
  }
  return max_;
}

}  // namespace hvload
