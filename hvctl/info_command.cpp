#include "info_command.hpp"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "hv/backend_registry.hpp"
#include "hv/mshv/kernel_notes.hpp"
#include "host_facts.hpp"
#include "json_writer.hpp"

namespace hvctl {

namespace {

const char* const kUsage =
    "usage: hvctl info [--json]\n"
    "Lists every backend hvctl was built with, whether this host offers it (or why not), and for each\n"
    "available one its API version and capabilities (with the reason for each unsupported one).\n"
    "Exit status: 0 when the report was printed (an unavailable backend is part of the report, not an\n"
    "error); 2 on a usage error.\n";

struct CapabilityRow {
  hv::Capability capability;
  std::optional<std::uint64_t> value;  // empty: unsupported
  std::string reason;
};

struct BackendReport {
  hv::BackendStatus status;
  std::uint32_t api_version = 0;
  std::vector<CapabilityRow> capabilities;
  std::optional<std::string> kernel_note;  // the real /dev/mshv backend only
};

// Known /dev/mshv kernel bugs on this host's kernel (hv/mshv/kernel_notes.hpp), shown with the mshv backends.
std::optional<std::string> mshv_kernel_note() { return hv::mshv::kernel_hazard(read_host_facts().kernel); }

std::vector<BackendReport> collect() {
  std::vector<BackendReport> reports;
  for (auto& status : hv::list_backends()) {
    BackendReport report{status, 0, {}, {}};
    if (status.name == "mshv") report.kernel_note = mshv_kernel_note();
    if (status.availability.available) {
      auto hypervisor = hv::open_hypervisor(status.name);
      if (!hypervisor) {
        report.status.availability = {false, hypervisor.error().to_string()};
      } else {
        report.api_version = (*hypervisor)->api_version();
        for (auto c : hv::kAllCapabilities) {
          auto v = (*hypervisor)->capability(c);
          report.capabilities.push_back(
              {c, v ? std::optional(*v) : std::nullopt, v ? std::string() : std::string(v.error().message())});
        }
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

void print_json(const std::vector<BackendReport>& reports) {
  JsonWriter w;
  w.begin_object().key("backends").begin_array();
  for (const auto& r : reports) {
    w.begin_object().key("name").value(r.status.name).key("available").value(r.status.availability.available);
    if (r.kernel_note) w.key("kernel_warning").value(*r.kernel_note);
    if (!r.status.availability.available) {
      w.key("reason").value(r.status.availability.reason);
    } else {
      w.key("api_version").value(std::uint64_t{r.api_version}).key("capabilities").begin_object();
      for (const auto& c : r.capabilities) {
        w.key(hv::to_string(c.capability));
        if (c.value)
          w.value(*c.value);
        else
          w.null();
      }
      // Why each null capability is unsupported, as the text form says; a separate object keeps
      // "capabilities" as it was for existing readers.
      w.end_object().key("unsupported").begin_object();
      for (const auto& c : r.capabilities) {
        if (!c.value) w.key(hv::to_string(c.capability)).value(c.reason);
      }
      w.end_object();
    }
    w.end_object();
  }
  w.end_array().end_object();
  std::printf("%s\n", w.str().c_str());
}

void print_text(const std::vector<BackendReport>& reports) {
  if (reports.empty()) std::printf("no backends registered\n");
  for (const auto& r : reports) {
    if (r.kernel_note) std::printf("%-10s warning: %s\n", r.status.name.c_str(), r.kernel_note->c_str());
    if (!r.status.availability.available) {
      std::printf("%-10s unavailable: %s\n", r.status.name.c_str(), r.status.availability.reason.c_str());
      continue;
    }
    std::printf("%-10s available, API version %u\n", r.status.name.c_str(), r.api_version);
    for (const auto& c : r.capabilities) {
      const std::string name(hv::to_string(c.capability));
      if (c.value) {
        std::printf("  %-20s %llu\n", name.c_str(), static_cast<unsigned long long>(*c.value));
      } else {
        std::printf("  %-20s unsupported (%s)\n", name.c_str(), c.reason.c_str());
      }
    }
  }
}

}  // namespace

int info_command(std::span<const std::string_view> args) {
  bool json = false;
  for (auto a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "hvctl info: unknown option '%.*s'\n%s", static_cast<int>(a.size()), a.data(), kUsage);
      return 2;
    }
  }
  const auto reports = collect();
  if (json)
    print_json(reports);
  else
    print_text(reports);
  return 0;
}

}  // namespace hvctl
