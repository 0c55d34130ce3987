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
  std::printf("\nhvkit vs %s (same run, median real time per %s):\n", baseline_.c_str(), unit_.c_str());
  for (const auto& [name, ns] : real_time_ns_) {
    const auto slash = name.rfind("/hvkit");
    if (slash == std::string::npos) continue;
    const auto base = name.substr(0, slash);
    auto baseline = real_time_ns_.find(base + "/" + baseline_);
    if (baseline == real_time_ns_.end() || baseline->second <= 0) continue;
    std::printf("  %-28s hvkit %9.1f ns   %s %9.1f ns   ratio %.3f\n", base.c_str(), ns, baseline_.c_str(),
                baseline->second, ns / baseline->second);
  }
}

}  // namespace hvbench
