#pragma once
// A daemon confines itself after setup, before it serves the first message (docs/sandbox.md): resource
// limits, --user's uid and gid, no capabilities, PR_SET_NO_NEW_PRIVS, Landlock with no file-system
// access, and seccomp-bpf allow-lists of the system calls it makes while serving: the process's, and
// a narrower one each ring worker (kick thread) loads on itself when it starts.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "sandbox_policies.hpp"
#include "sandbox_privileges.hpp"

namespace hvd {

struct SandboxOptions {
  bool enabled = true;           // --no-sandbox turns it off
  bool debug = false;            // --sandbox-debug: a forbidden call is logged and exits, rather than killing
  std::optional<Identity> user;  // --user NAME|UID[:GID] (parse_user), none: keep the uid
};

// What one daemon needs beyond base_syscalls() and ring_worker_syscalls(), and how many rings its
// device has (for the open-file limit).
struct SandboxNeeds {
  DevicePolicy policy;
  std::size_t rings = 1;
};

// What confine() leaves the daemon to keep for as long as it serves.
struct Confinement {
  std::string summary;  // one line for the log
  // The ring workers' filter loader, for BackendSession::ThreadStart: a worker that cannot load it
  // ends the process. Empty with --no-sandbox.
  std::function<void()> on_ring_thread;
  // /dev/null on every descriptor number below the highest open at confinement that was free: a
  // descriptor made later (a received eventfd, the inflight memfd) is then always above it, where the
  // filter lets write and ftruncate reach (base_syscalls).
  std::vector<hv::UniqueFd> placeholders;
};

// The open-file limit a daemon serves within: every descriptor open now (`highest_fd` the largest),
// plus what one session can hold at once (docs/sandbox.md, "Resource limits").
std::size_t open_file_limit(int highest_fd, std::size_t rings);

// Confines the calling process for good, every thread included. Call it with no threads of its own
// running yet (Landlock applies to threads created afterwards).
hv::Result<Confinement> confine(const SandboxOptions& options, const SandboxNeeds& needs, const std::string& program);

}  // namespace hvd
