#pragma once
// Known bugs of the kernel's /dev/mshv driver that a VMM on this host should be told about, decided
// from the running kernel's release (`uname -r`). docs/mshv.md has the details and sources.

#include <optional>
#include <string>
#include <string_view>

namespace hv::mshv {

// A one-line warning when `release` names a kernel with a known /dev/mshv hazard, else nothing.
// Today one: Linux 6.19's movable regions (b9a66cd5ccbb) spin in the kernel when a guest writes to a
// read-only region, until "mshv: Fix infinite fault loop on permission-denied GPA intercepts"
// (16cbec248976, in 7.0-rc8 and 6.19.14). Affected: 6.19 to 6.19.13, 7.0-rc1 to 7.0-rc7. A distribution
// kernel may carry the fix under an older number: the warning says so.
std::optional<std::string> kernel_hazard(std::string_view release);

}  // namespace hv::mshv
