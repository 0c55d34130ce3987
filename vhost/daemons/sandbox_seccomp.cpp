// libseccomp and the SIGSYS handler of --sandbox-debug. The filter is built by name and loaded on every
// thread (TSYNC); the debug mode's names are resolved before it is loaded, since a signal handler may
// not allocate (seccomp_syscall_resolve_num_arch does).
#include "sandbox_seccomp.hpp"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "sandbox_sanitizer.hpp"

namespace hvd {
namespace {

constexpr ArgCondition no_exec(unsigned index) { return {index, PROT_EXEC, 0}; }
constexpr ArgCondition equals(unsigned index, std::uint64_t value) { return {index, ~std::uint64_t{0}, value}; }

// The debug mode's state, written once before the filter is loaded and only read by the handler: a
// signal handler can reach no other state.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
constexpr std::size_t kNames = 512;     // x86-64 system call numbers are below this
constexpr std::size_t kNameBytes = 32;  // the longest name is 22
std::array<std::array<char, kNameBytes>, kNames> g_names{};
std::array<char, 96> g_prefix{};
std::size_t g_prefix_length = 0;
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

void put(std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// SIGSYS from SCMP_ACT_TRAP: async-signal-safe, write(2) and _exit(2) only.
void on_forbidden_call(int /*signal*/, siginfo_t* info, void* /*context*/) {
  const int nr = info->si_syscall;
  std::array<char, 16> digits{};
  std::size_t at = digits.size();
  unsigned value = nr < 0 ? 0U : static_cast<unsigned>(nr);
  do {
    digits.at(--at) = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && at != 0);
  put(std::string_view(g_prefix.data(), g_prefix_length));
  put(std::string_view(&digits.at(at), digits.size() - at));
  put(" (");
  const bool known =
      nr >= 0 && static_cast<std::size_t>(nr) < kNames && g_names.at(static_cast<std::size_t>(nr))[0] != 0;
  put(known ? std::string_view(g_names.at(static_cast<std::size_t>(nr)).data()) : std::string_view("unknown"));
  put(")\n");
  ::_exit(kForbiddenCallExit);
}

hv::Result<void> prepare_debug(const std::string& program) {
  const std::string prefix = program + ": sandbox: forbidden system call ";
  if (prefix.size() >= g_prefix.size())
    return hv::fail(hv::ErrorKind::InvalidArgument, "sandbox", "program name too long");
  std::memcpy(g_prefix.data(), prefix.data(), prefix.size());
  g_prefix_length = prefix.size();
  for (std::size_t nr = 0; nr < kNames; ++nr) {
    const std::unique_ptr<char, decltype(&std::free)> name(
        seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr)), &std::free);
    if (name && std::strlen(name.get()) < kNameBytes) std::strcpy(g_names.at(nr).data(), name.get());
  }
  struct sigaction action {};
  action.sa_sigaction = on_forbidden_call;
  action.sa_flags = SA_SIGINFO;
  if (::sigaction(SIGSYS, &action, nullptr) != 0) return hv::fail_errno("sandbox: sigaction(SIGSYS)", errno);
  sigset_t sigsys;
  sigemptyset(&sigsys);
  sigaddset(&sigsys, SIGSYS);
  if (::pthread_sigmask(SIG_UNBLOCK, &sigsys, nullptr) != 0)
    return hv::fail(hv::ErrorKind::SystemError, "sandbox", "cannot unblock SIGSYS");
  return {};
}

}  // namespace

std::vector<SyscallRule> base_syscalls() {
  std::vector<SyscallRule> rules = {
      // The vhost-user socket: accept a frontend, its messages (with descriptors), and poll with a timeout.
      {"accept4", {}},
      {"recvmsg", {}},
      {"recvfrom", {}},  // recv(2): a message's payload after its header
      {"sendmsg", {}},
      {"poll", {}},
      {"ppoll", {}},
      {"getsockopt", {equals(1, SOL_SOCKET)}},  // serve_frontends: is the socket listening?
      // Eventfds (kicks, calls, errors, the kick threads' stop event), the log on stderr, closing.
      {"read", {}},
      {"write", {}},
      {"writev", {}},
      {"close", {}},
      {"eventfd2", {}},
      // A received descriptor's checks: its /proc/self/fd link and its type and size.
      {"readlink", {}},
      {"readlinkat", {}},
      {"fstat", {}},
      {"newfstatat", {}},
      {"fcntl", {equals(1, F_GETFL)}},
      {"fcntl", {equals(1, F_SETFL)}},
      {"fcntl", {equals(1, F_DUPFD_CLOEXEC)}},
      {"fcntl", {equals(1, F_ADD_SEALS)}},
      // Guest memory and the inflight region: mapped from received descriptors, or a new sealed memfd.
      // Never executable.
      {"mmap", {no_exec(2)}},
      {"mprotect", {no_exec(2)}},
      {"munmap", {}},
      {"madvise", {}},
      {"mremap", {}},
      {"brk", {}},
      {"memfd_create", {}},
      {"ftruncate", {}},
      // Threads: the kick threads and the devices' own (clone with CLONE_THREAD only: no new process).
      {"clone", {{0, CLONE_THREAD, CLONE_THREAD}}},
      {"futex", {}},
      {"set_robust_list", {}},
      {"rseq", {}},
      {"sched_yield", {}},
      {"gettid", {}},
      {"getpid", {}},
      {"rt_sigprocmask", {}},
      {"rt_sigreturn", {}},
      {"restart_syscall", {}},
      {"tgkill", {equals(0, static_cast<std::uint64_t>(::getpid()))}},  // abort(): SIGABRT to itself
      {"clock_gettime", {}},
      {"exit", {}},
      {"exit_group", {}},
  };
  const auto more = sanitizer_syscalls();
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

hv::Result<std::size_t> install_seccomp(const std::vector<SyscallRule>& rules, bool debug, const std::string& program) {
  constexpr const char* op = "sandbox: seccomp";
  if (debug) {
    if (auto prepared = prepare_debug(program); !prepared) return tl::unexpected(prepared.error());
  }
  const std::unique_ptr<void, decltype(&seccomp_release)> ctx(
      seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS), &seccomp_release);
  if (!ctx) return hv::fail(hv::ErrorKind::SystemError, op, "seccomp_init failed");
  if (const int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); r != 0)
    return hv::fail_errno(op, -r, "TSYNC");
  std::vector<std::string> names;
  for (const auto& rule : rules) {
    const int nr = seccomp_syscall_resolve_name(rule.name.c_str());
    if (nr == __NR_SCMP_ERROR) return hv::fail(hv::ErrorKind::Internal, op, "unknown system call " + rule.name);
    std::vector<scmp_arg_cmp> conditions;
    for (const auto& c : rule.when) {
      scmp_arg_cmp condition{};  // SCMP_CMP64 is a C compound literal
      condition.arg = c.index;
      condition.op = SCMP_CMP_MASKED_EQ;
      condition.datum_a = c.mask;
      condition.datum_b = c.value;
      conditions.push_back(condition);
    }
    if (const int r = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ALLOW, nr, static_cast<unsigned>(conditions.size()),
                                             conditions.data());
        r != 0) {
      return hv::fail_errno(op, -r, "rule for " + rule.name);
    }
    if (std::find(names.begin(), names.end(), rule.name) == names.end()) names.push_back(rule.name);
  }
  // glibc's pthread_create tries clone3 first, whose flags live in memory a filter cannot read.
  if (const int r = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, nullptr); r != 0) {
    return hv::fail_errno(op, -r, "clone3");
  }
  if (const int r = seccomp_load(ctx.get()); r != 0) return hv::fail_errno(op, -r, "seccomp_load");
  return names.size();
}

}  // namespace hvd
