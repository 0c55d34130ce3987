#include "report.hpp"

#include <iomanip>
#include <sstream>

namespace hvload {

Summary summarize(const LatencyHistogram& latency, std::uint64_t requests, std::chrono::nanoseconds elapsed,
                  std::uint32_t block_size) {
  Summary s;
  s.requests = requests;
  s.seconds = std::chrono::duration<double>(elapsed).count();
  if (s.seconds > 0) {
    s.iops = static_cast<double>(requests) / s.seconds;
    s.mib_per_s = s.iops * block_size / (1024.0 * 1024.0);
  }
  s.p50_us = static_cast<double>(latency.percentile(500'000)) / 1000.0;
  s.p99_us = static_cast<double>(latency.percentile(990'000)) / 1000.0;
  s.p999_us = static_cast<double>(latency.percentile(999'000)) / 1000.0;
  return s;
}

std::string format_json(const Summary& s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << "{\"iops\":" << s.iops << std::setprecision(2)
      << ", \"mib_per_s\":" << s.mib_per_s << ", \"lat_us\":{\"p50\":" << s.p50_us << ", \"p99\":" << s.p99_us
      << ", \"p999\":" << s.p999_us << "}}\n";
  return out.str();
}

std::string format_text(const Summary& s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << "iops " << s.iops << std::setprecision(2) << "  MiB/s " << s.mib_per_s
      << "  latency us: p50 " << s.p50_us << "  p99 " << s.p99_us << "  p99.9 " << s.p999_us << "  (" << s.requests
      << " requests in " << std::setprecision(3) << s.seconds << " s)\n";
  return out.str();
}

}  // namespace hvload
