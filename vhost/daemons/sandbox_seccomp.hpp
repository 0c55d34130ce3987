#pragma once
// The daemons' seccomp-bpf allow-list (docs/sandbox.md): the system calls a daemon makes while it serves
// frontends, each rule a call and optionally conditions on its arguments. Anything else kills the
// process (SECCOMP_RET_KILL_PROCESS), or, with --sandbox-debug, logs the call's number and name to
// stderr and exits with kForbiddenCallExit.

#include <cstdint>
#include <string>
#include <vector>

#include "hv/error.hpp"

namespace hvd {

// (argument[index] & mask) == value.
struct ArgCondition {
  unsigned index = 0;
  std::uint64_t mask = ~std::uint64_t{0};
  std::uint64_t value = 0;
};

// One allowed call; every condition must hold. Several rules for one call: any of them allows it.
struct SyscallRule {
  std::string name;  // as libseccomp names it: "ioctl", "pread64"
  std::vector<ArgCondition> when;
};

// --sandbox-debug's exit status after a forbidden call: what a shell reports for death by SIGSYS.
inline constexpr int kForbiddenCallExit = 128 + 31;

// What every daemon needs while serving (the vhost-user session, its kick threads, the C and C++
// runtimes); in sanitizer builds also what the sanitizer runtimes need (docs/sandbox.md).
std::vector<SyscallRule> base_syscalls();

// Loads the filter for `rules` on every thread of the process (TSYNC). `program` prefixes the debug
// mode's log line. Needs PR_SET_NO_NEW_PRIVS (or CAP_SYS_ADMIN) first. clone3 fails with ENOSYS rather
// than being allowed, so that glibc falls back to clone, whose flags a filter can see.
hv::Result<std::size_t> install_seccomp(const std::vector<SyscallRule>& rules, bool debug, const std::string& program);

}  // namespace hvd
