#include "conformance_command.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "host_facts.hpp"
#include "hv/backend_registry.hpp"
#include "hv/conformance/suite.hpp"
#include "json_writer.hpp"

namespace hvctl {

namespace {

using hv::conformance::BackendReport;
using hv::conformance::Outcome;

struct BackendRun {
  std::string name;
  bool available = false;
  std::string reason;  // why unavailable
  BackendReport report;
};

struct Options {
  std::string backend = "all";
  std::string filter = "*";
  bool json = false;
};

constexpr int kCaseFailed = 1, kUsageError = 2, kNothingRan = 5;

const char* const kUsage =
    "usage: hvctl conformance [--backend NAME|all] [--filter GLOB] [--json]\n"
    "Runs the conformance suite on every available backend (or on NAME) and prints case x backend ->\n"
    "pass / fail / unsupported, with the reason for each non-pass.\n"
    "Exit status: 0 when at least one case ran (passed or failed) and none failed; 1 when a case failed;\n"
    "2 on a usage error, including an unknown backend NAME; 5 when no case ran (no backend available,\n"
    "NAME unavailable, no case matching GLOB, or every matching case unsupported), with the reason on\n"
    "stderr.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "hvctl conformance: %s\n%s", message.c_str(), kUsage);
  return kUsageError;
}

void print_json(const std::vector<BackendRun>& runs) {
  const auto host = read_host_facts();
  JsonWriter w;
  w.begin_object().key("host").begin_object();
  w.key("hostname").value(host.hostname).key("kernel").value(host.kernel).key("cpu").value(host.cpu_model);
  w.end_object().key("backends").begin_object();
  for (const auto& run : runs) {
    w.key(run.name).begin_object().key("available").value(run.available);
    if (!run.available) w.key("reason").value(run.reason);
    w.key("passed").value(std::uint64_t{run.report.count(Outcome::Pass)});
    w.key("failed").value(std::uint64_t{run.report.count(Outcome::Fail)});
    w.key("unsupported").value(std::uint64_t{run.report.count(Outcome::Unsupported)});
    w.key("cases").begin_array();
    for (const auto& c : run.report.cases) {
      w.begin_object()
          .key("name")
          .value(c.info->name)
          .key("result")
          .value(hv::conformance::to_string(c.result.outcome));
      w.key("detail").value(c.result.detail).end_object();
    }
    w.end_array().end_object();
  }
  w.end_object().end_object();
  std::printf("%s\n", w.str().c_str());
}

void print_table(const std::vector<BackendRun>& runs) {
  std::printf("%-36s", "case");
  for (const auto& run : runs) std::printf(" %-12s", run.name.c_str());
  std::printf("\n");
  // Every run covers the same filtered case list; take the rows from the first one that ran.
  const BackendRun* rows = nullptr;
  for (const auto& run : runs) {
    if (run.available) rows = &run;
  }
  if (rows != nullptr) {
    for (std::size_t i = 0; i < rows->report.cases.size(); ++i) {
      std::printf("%-36s", std::string(rows->report.cases[i].info->name).c_str());
      for (const auto& run : runs) {
        const char* cell = !run.available ? "-" : hv::conformance::to_string(run.report.cases[i].result.outcome).data();
        std::printf(" %-12s", cell);
      }
      std::printf("\n");
    }
  }
  std::printf("\n");
  for (const auto& run : runs) {
    if (!run.available) {
      std::printf("%s: unavailable (%s)\n", run.name.c_str(), run.reason.c_str());
      continue;
    }
    for (const auto& c : run.report.cases) {
      if (c.result.outcome != Outcome::Pass) {
        std::printf("%s/%s %s: %s\n", run.name.c_str(), std::string(c.info->name).c_str(),
                    hv::conformance::to_string(c.result.outcome).data(), c.result.detail.c_str());
      }
    }
    std::printf("%s: %zu passed, %zu failed, %zu unsupported\n", run.name.c_str(), run.report.count(Outcome::Pass),
                run.report.count(Outcome::Fail), run.report.count(Outcome::Unsupported));
  }
}

// Why no case ran (exit status 5), or empty when at least one passed or failed.
std::string why_nothing_ran(const std::vector<BackendRun>& runs, const Options& options) {
  for (const auto& run : runs) {
    if (run.report.count(Outcome::Pass) + run.report.count(Outcome::Fail) > 0) return {};
  }
  const bool any_case = std::ranges::any_of(hv::conformance::all_cases(), [&](const hv::conformance::CaseInfo& info) {
    return hv::conformance::glob_match(options.filter, info.name);
  });
  if (!any_case) return "no case matched filter '" + options.filter + "'";
  if (std::ranges::none_of(runs, &BackendRun::available)) {
    if (options.backend != "all") {
      return "backend '" + runs.front().name + "' is unavailable: " + runs.front().reason;
    }
    return "no backend available";
  }
  return "every case matching '" + options.filter + "' is unsupported here";
}

}  // namespace

int conformance_command(std::span<const std::string_view> args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (a == "--json") {
      options.json = true;
    } else if ((a == "--backend" || a == "--filter") && i + 1 < args.size()) {
      (a == "--backend" ? options.backend : options.filter) = std::string(args[++i]);
    } else {
      return usage_error("unknown or incomplete option '" + std::string(a) + "'");
    }
  }
  const auto backends = hv::list_backends();
  if (options.backend != "all" &&
      std::ranges::none_of(backends, [&](const hv::BackendStatus& b) { return b.name == options.backend; })) {
    return usage_error("no backend named '" + options.backend + "'");
  }
  std::vector<BackendRun> runs;
  for (const auto& status : backends) {
    if (options.backend != "all" && status.name != options.backend) continue;
    BackendRun run{status.name, status.availability.available, status.availability.reason, {status.name, {}}};
    if (run.available) {
      auto hypervisor = hv::open_hypervisor(status.name);
      if (!hypervisor) {
        run.available = false;
        run.reason = hypervisor.error().to_string();
      } else {
        run.report = hv::conformance::run_suite(**hypervisor, options.filter);
      }
    }
    runs.push_back(std::move(run));
  }
  if (options.json)
    print_json(runs);
  else
    print_table(runs);
  for (const auto& run : runs) {
    if (run.report.count(Outcome::Fail) > 0) return kCaseFailed;
  }
  // A health check keyed on the exit status must not pass a host where nothing was checked.
  if (const auto why = why_nothing_ran(runs, options); !why.empty()) {
    std::fprintf(stderr, "hvctl conformance: nothing ran: %s\n", why.c_str());
    return kNothingRan;
  }
  return 0;
}

}  // namespace hvctl
