#pragma once
// What a run measured, and how vhost-user-blk-load prints it.

#include <chrono>
#include <cstdint>
#include <string>

#include "latency_histogram.hpp"

namespace hvload {

struct Summary {
  std::uint64_t requests = 0;
  double seconds = 0;
  double iops = 0;
  double mib_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;  // nearest-rank percentiles (latency_histogram.hpp)
};

// `elapsed`: the longest queue's measured time (all queues run at once).
[[nodiscard]] Summary summarize(const LatencyHistogram& latency, std::uint64_t requests,
                                std::chrono::nanoseconds elapsed, std::uint32_t block_size);

// {"iops":…, "mib_per_s":…, "lat_us":{"p50":…, "p99":…, "p999":…}} and a newline; IOPS with one
// decimal, MiB/s and microseconds with two.
[[nodiscard]] std::string format_json(const Summary& summary);
[[nodiscard]] std::string format_text(const Summary& summary);

}  // namespace hvload
