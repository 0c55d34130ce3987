#pragma once
// Console output plus, at the end, each hvkit figure divided by its baseline from the same run.
// Pairs are named "<case>/hvkit" and "<case>/raw_ioctl".

#include <map>
#include <string>

#include <benchmark/benchmark.h>

namespace hvbench {

class PairedReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  void PrintRatios() const;

 private:
  std::map<std::string, double> real_time_ns_;
};

}  // namespace hvbench
