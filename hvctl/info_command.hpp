#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl info [--json]`: every registered backend, whether it is available (or why not), and for the
// available ones the API version and key capabilities. Exit status 0, or 2 on a usage error.
int info_command(std::span<const std::string_view> args);

}  // namespace hvctl
