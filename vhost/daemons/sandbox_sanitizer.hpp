#pragma once
// Sanitizer builds (the asan and fuzz presets): the sanitizer runtimes make system calls and open files
// the daemons themselves never do (LeakSanitizer's exit-time check stops the threads with a ptrace'ing
// clone and reads /proc/self/maps and /proc/self/task; ASan reads /proc/self/maps for a report). Their
// sandbox is widened for exactly these, and only in such builds (docs/sandbox.md).

#include <vector>

#include "sandbox_seccomp.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HVD_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define HVD_SANITIZER_BUILD 1
#endif
#endif

namespace hvd {

#ifdef HVD_SANITIZER_BUILD
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// The calls the sanitizer runtimes add, in a sanitizer build; none otherwise.
inline std::vector<SyscallRule> sanitizer_syscalls() {
  if (!kSanitizerBuild) return {};
  return {
      {"clone", {}},  // LeakSanitizer's tracer: a process sharing the address space, not a thread
      {"ptrace", {}},
      {"wait4", {}},
      {"prctl", {}},
      {"open", {}},
      {"openat", {}},
      {"getdents64", {}},
      {"lseek", {}},
      {"sigaltstack", {}},
      {"rt_sigaction", {}},
      {"getppid", {}},
      {"sched_getaffinity", {}},
      {"kill", {}},
      {"pipe2", {}},  // IsAccessibleMemoryRange probes memory through a pipe
      {"close", {}},  // ... and closes it, on a ring worker too (whose own list has no close)
  };
}

}  // namespace hvd
