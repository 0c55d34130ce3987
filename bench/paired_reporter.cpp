#include "paired_reporter.hpp"

#include <cstdio>

namespace hvbench {

void PairedReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const auto& run : runs) {
    // With repetitions the median is the figure; without, the single iteration run.
    if (run.error_occurred) continue;
    const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    if (median || (run.run_type == Run::RT_Iteration && run.repetitions <= 1)) {
      real_time_ns_[run.run_name.function_name] = run.GetAdjustedRealTime();
    }
  }
  ConsoleReporter::ReportRuns(runs);
}

void PairedReporter::PrintRatios() const {
  std::printf("\nhvkit vs baseline (same run, median real time per exit):\n");
  for (const auto& [name, ns] : real_time_ns_) {
    const auto slash = name.rfind("/hvkit");
    if (slash == std::string::npos) continue;
    const auto base = name.substr(0, slash);
    auto raw = real_time_ns_.find(base + "/raw_ioctl");
    if (raw == real_time_ns_.end() || raw->second <= 0) continue;
    std::printf("  %-8s hvkit %9.0f ns   raw ioctl %9.0f ns   ratio %.3f\n", base.c_str(), ns, raw->second,
                ns / raw->second);
  }
}

}  // namespace hvbench
