#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl conformance [--backend NAME|all] [--filter GLOB] [--json]`: runs the conformance suite on
// this host. Exit status 0 when no case failed, 1 when any failed, 2 on a usage or backend error.
int conformance_command(std::span<const std::string_view> args);

}  // namespace hvctl
