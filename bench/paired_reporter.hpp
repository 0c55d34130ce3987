#pragma once
// Console output plus, at the end, each hvkit figure divided by its baseline from the same run.
// Pairs are named "<case>/hvkit" and "<case>/<baseline>" (e.g. raw_ioctl, native).

#include <map>
#include <string>

#include <benchmark/benchmark.h>

namespace hvbench {

class PairedReporter : public benchmark::ConsoleReporter {
 public:
  // `baseline`: the suffix of the baseline runs; `unit`: what one iteration is ("exit", "instruction").
  explicit PairedReporter(std::string baseline = "raw_ioctl", std::string unit = "exit")
      : baseline_(std::move(baseline)), unit_(std::move(unit)) {}
  void ReportRuns(const std::vector<Run>& runs) override;
  void PrintRatios() const;

 private:
  std::string baseline_;
  std::string unit_;
  std::map<std::string, double> real_time_ns_;
};

}  // namespace hvbench
