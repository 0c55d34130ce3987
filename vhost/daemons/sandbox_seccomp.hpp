#pragma once
// The daemons' seccomp-bpf allow-lists (docs/sandbox.md), one per thread role: the process's (the
// vhost-user control thread, and every thread until it narrows itself), and the ring workers' (each
// kick thread loads it on top, first thing: filters stack, a call must pass both). Each rule is a call
// and optionally conditions on its arguments. Anything else kills the process
// (SECCOMP_RET_KILL_PROCESS), or, with --sandbox-debug, logs the call's number and name to stderr and
// exits with kForbiddenCallExit.

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hv/error.hpp"

namespace hvd {

// above == false: (argument[index] & mask) == value; above == true: argument[index] > value (mask
// unused). libseccomp takes one comparison per argument in a rule; several rules for one call are
// alternatives.
struct ArgCondition {
  unsigned index = 0;
  std::uint64_t mask = ~std::uint64_t{0};
  std::uint64_t value = 0;
  bool above = false;
};

constexpr ArgCondition arg_equals(unsigned index, std::uint64_t value) { return {index, ~std::uint64_t{0}, value}; }
constexpr ArgCondition arg_above(unsigned index, std::uint64_t value) { return {index, 0, value, true}; }

// One allowed call; every condition must hold. Several rules for one call: any of them allows it.
struct SyscallRule {
  std::string name;  // as libseccomp names it: "ioctl", "pread64"
  std::vector<ArgCondition> when;
};

// --sandbox-debug's exit status after a forbidden call: what a shell reports for death by SIGSYS.
inline constexpr int kForbiddenCallExit = 128 + 31;

// What every daemon's process needs while serving (the vhost-user session, the C and C++ runtimes,
// threads loading their own filter); in sanitizer builds also what the sanitizer runtimes need
// (docs/sandbox.md). `last_setup_fd`: the highest descriptor open at confinement (every lower one
// open too, sandbox.cpp); write, writev and ftruncate reach only stderr and descriptors above it
// (received from the frontend, or created while serving), never the files opened at setup.
std::vector<SyscallRule> base_syscalls(int last_setup_fd);

// What every ring worker (kick thread) needs: wait for a kick (poll, read), signal the frontend
// (write an eventfd), locks, the allocator, its end. The device adds what its notify() does.
std::vector<SyscallRule> ring_worker_syscalls(int last_setup_fd);

// Loads the filter for `rules` on every thread of the process (TSYNC). `program` prefixes the debug
// mode's log line. Needs PR_SET_NO_NEW_PRIVS (or CAP_SYS_ADMIN) first. clone3 fails with ENOSYS rather
// than being allowed, so that glibc falls back to clone, whose flags a filter can see.
hv::Result<std::size_t> install_seccomp(const std::vector<SyscallRule>& rules, bool debug, const std::string& program);

// A filter compiled (by libseccomp, before the process filter is loaded) for threads to load on
// themselves later by one seccomp(2) call: no libseccomp and no allocation on the thread.
class ThreadFilter {
 public:
  [[nodiscard]] bool empty() const noexcept { return program_.empty(); }
  [[nodiscard]] std::size_t calls() const noexcept { return calls_; }
  // Loads it on the calling thread only, on top of what it has (filters stack: a call must pass
  // all). Needs no_new_privs (inherited) and, under the process filter, its seccomp rule.
  [[nodiscard]] hv::Result<void> load_on_this_thread() const;

 private:
  friend hv::Result<ThreadFilter> compile_thread_filter(const std::vector<SyscallRule>& rules, bool debug);
  std::vector<sock_filter> program_;  // as seccomp_export_bpf writes it
  std::size_t calls_ = 0;
};

// Compiles `rules`, with install_seccomp's default action (--sandbox-debug: its SIGSYS handler, which
// install_seccomp sets up, must be in place before a thread loads it).
hv::Result<ThreadFilter> compile_thread_filter(const std::vector<SyscallRule>& rules, bool debug);

}  // namespace hvd
