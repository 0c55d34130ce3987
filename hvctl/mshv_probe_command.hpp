#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl mshv-probe [--backend mshv|mshv-sim] [--json]`: the scripted MSHV session of
// hv/mshv/probe.hpp, printed. Exit 0 when the whole script ran, 1 when it stopped early (what it saw
// is printed), 2 on a usage error, 5 when the backend is unavailable (nothing ran).
int mshv_probe_command(std::span<const std::string_view> args);

}  // namespace hvctl
