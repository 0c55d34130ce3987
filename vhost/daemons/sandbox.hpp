#pragma once
// A daemon confines itself after setup, before it serves the first message (docs/sandbox.md): resource
// limits, --user's uid and gid, no capabilities, PR_SET_NO_NEW_PRIVS, Landlock with no file-system
// access, and a seccomp-bpf allow-list of the system calls it makes while serving.

#include <string>
#include <vector>

#include "hv/error.hpp"
#include "sandbox_seccomp.hpp"

namespace hvd {

struct SandboxOptions {
  bool enabled = true;  // --no-sandbox turns it off
  bool debug = false;   // --sandbox-debug: a forbidden call is logged and exits, rather than killing
  std::string user;     // --user NAME|UID[:GID], empty: keep the uid
};

// What one daemon needs beyond base_syscalls(), and how many rings its device has (for the open-file
// limit).
struct SandboxNeeds {
  std::vector<SyscallRule> syscalls;
  std::size_t rings = 1;
};

// The open-file limit a daemon serves within: every descriptor open now (`highest_fd` the largest),
// plus what one session can hold at once (docs/sandbox.md, "Resource limits").
std::size_t open_file_limit(int highest_fd, std::size_t rings);

// Confines the calling process for good, every thread included; a one-line summary for the log.
// Call it with no threads of its own running yet (Landlock applies to threads created afterwards).
hv::Result<std::string> confine(const SandboxOptions& options, const SandboxNeeds& needs, const std::string& program);

}  // namespace hvd
