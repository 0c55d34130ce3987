#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl run [options] [IMAGE]`: boots IMAGE (or the demo guest) on the example VMM; the options and
// exit statuses are in kUsage (hvctl run --help) and README.md.
int run_command(std::span<const std::string_view> args);

}  // namespace hvctl
