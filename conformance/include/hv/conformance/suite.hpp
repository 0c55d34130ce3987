#pragma once
// hvkit's conformance suite: real guest programs, written once against the neutral interface and run
// on any backend. A case passes, fails (with what differed), or is unsupported (with why).

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hv/hypervisor.hpp"

namespace hv::conformance {

enum class Outcome : std::uint8_t { Pass, Fail, Unsupported };
std::string_view to_string(Outcome outcome) noexcept;

struct CaseResult {
  Outcome outcome = Outcome::Pass;
  std::string detail;  // what failed, or why the case does not apply; empty on pass
  static CaseResult pass() { return {Outcome::Pass, {}}; }
  static CaseResult fail(std::string why) { return {Outcome::Fail, std::move(why)}; }
  static CaseResult unsupported(std::string why) { return {Outcome::Unsupported, std::move(why)}; }
};

// A case runs one or more guests on VMs it creates from `hypervisor`.
using CaseFunction = CaseResult (*)(Hypervisor& hypervisor);

struct CaseInfo {
  std::string_view name;
  std::string_view description;  // what it checks and why a VMM depends on it
  CaseFunction run;
};

// Every case, in a stable order.
std::span<const CaseInfo> all_cases();

struct CaseReport {
  const CaseInfo* info = nullptr;
  CaseResult result;
};

struct BackendReport {
  std::string backend;
  std::vector<CaseReport> cases;
  [[nodiscard]] std::size_t count(Outcome outcome) const;
};

// Shell-style glob: '*' any run of characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// Runs the cases whose names match `filter` against the hypervisor. A case that throws or returns an
// error is reported as failed, never as passed.
BackendReport run_suite(Hypervisor& hypervisor, std::string_view filter = "*");
CaseResult run_case(const CaseInfo& info, Hypervisor& hypervisor);

}  // namespace hv::conformance
