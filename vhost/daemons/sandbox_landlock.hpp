#pragma once
// Landlock (Documentation/userspace-api/landlock.rst), by raw system call: glibc has no wrappers. After
// setup a daemon opens no path at all (its image, EEPROM files and /dev/i2c-N are open, and the
// listening socket accepts without one), so the ruleset handles every file-system right the kernel's
// ABI knows and grants none; from ABI 4 also TCP bind/connect, from ABI 6 abstract Unix sockets and
// signals outside the domain. Descriptors opened before keep the rights they were opened with.

#include <string>
#include <vector>

#include "hv/error.hpp"

namespace hvd {

// The Landlock ABI version the kernel offers, 0 when it has none (not built, or disabled at boot).
int landlock_abi();

// Restricts the process (every thread created after this; call it before starting any) to reading
// the paths in `readable` (files or directory trees) and nothing else. Needs PR_SET_NO_NEW_PRIVS.
// Returns the ABI used; 0 (and no change) when the kernel has no Landlock.
hv::Result<int> restrict_filesystem(const std::vector<std::string>& readable);

}  // namespace hvd
