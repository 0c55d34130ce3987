#include <exception>

#include "hv/conformance/suite.hpp"

namespace hv::conformance {

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::Pass: return "pass";
    case Outcome::Fail: return "fail";
    case Outcome::Unsupported: return "unsupported";
  }
  return "unknown";
}

std::size_t BackendReport::count(Outcome outcome) const {
  std::size_t n = 0;
  for (const auto& c : cases) n += c.result.outcome == outcome ? 1 : 0;
  return n;
}

CaseResult run_case(const CaseInfo& info, Hypervisor& hypervisor) {
  try {
    return info.run(hypervisor);
  } catch (const std::exception& e) {
    return CaseResult::fail(std::string("exception: ") + e.what());
  } catch (...) {
    return CaseResult::fail("unknown exception");
  }
}

BackendReport run_suite(Hypervisor& hypervisor, std::string_view filter) {
  BackendReport report{std::string(hypervisor.name()), {}};
  for (const auto& info : all_cases()) {
    if (!glob_match(filter, info.name)) continue;
    report.cases.push_back({&info, run_case(info, hypervisor)});
  }
  return report;
}

}  // namespace hv::conformance
