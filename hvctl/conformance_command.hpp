#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl conformance [--backend NAME|all] [--filter GLOB] [--json]`: runs the conformance suite on
// this host. Exit status 0 when at least one case ran (passed or failed) and none failed; 1 when any
// failed; 2 on a usage error (including an unknown backend name); 5 when no case ran (no backend
// available, the named backend unavailable, the filter matching nothing, or every case unsupported).
int conformance_command(std::span<const std::string_view> args);

}  // namespace hvctl
