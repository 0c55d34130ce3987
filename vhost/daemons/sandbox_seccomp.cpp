// libseccomp and the SIGSYS handler of --sandbox-debug. The process filter is built by name and loaded
// on every thread (TSYNC); a thread role's filter is built the same way, exported as BPF, and loaded
// later by the thread itself with a raw seccomp(2) (the kernel's ABI: struct sock_fprog). The debug
// mode's names are resolved before anything is loaded, since a signal handler may not allocate
// (seccomp_syscall_resolve_num_arch does).
#include "sandbox_seccomp.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "hv/unique_fd.hpp"
#include "sandbox_sanitizer.hpp"

namespace hvd {
namespace {

constexpr const char* kOp = "sandbox: seccomp";
constexpr ArgCondition no_exec(unsigned index) { return {index, PROT_EXEC, 0}; }
constexpr ArgCondition equals(unsigned index, std::uint64_t value) { return arg_equals(index, value); }
constexpr std::uint64_t kStderr = STDERR_FILENO;

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

// Rules for `name` on stderr and on descriptors above `last_setup_fd` (two rules: one comparison per
// argument).
void stderr_or_new(std::vector<SyscallRule>& rules, const char* name, int last_setup_fd) {
  rules.push_back({name, {equals(0, kStderr)}});
  rules.push_back({name, {arg_above(0, static_cast<std::uint64_t>(last_setup_fd))}});
}

using Context = std::unique_ptr<void, decltype(&seccomp_release)>;

// The libseccomp context for `rules` and how many distinct calls they allow. clone3 fails with ENOSYS,
// open and openat with EACCES.
hv::Result<std::pair<Context, std::size_t>> build(const std::vector<SyscallRule>& rules, bool debug) {
  Context ctx(seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS), &seccomp_release);
  if (!ctx) return hv::fail(hv::ErrorKind::SystemError, kOp, "seccomp_init failed");
  std::vector<std::string> names;
  for (const auto& rule : rules) {
    const int nr = seccomp_syscall_resolve_name(rule.name.c_str());
    if (nr == __NR_SCMP_ERROR) return hv::fail(hv::ErrorKind::Internal, kOp, "unknown system call " + rule.name);
    std::vector<scmp_arg_cmp> conditions;
    for (const auto& c : rule.when) {
      scmp_arg_cmp condition{};  // SCMP_CMP64 is a C compound literal
      condition.arg = c.index;
      condition.op = c.above ? SCMP_CMP_GT : SCMP_CMP_MASKED_EQ;
      condition.datum_a = c.above ? c.value : c.mask;
      condition.datum_b = c.above ? 0 : c.value;
      conditions.push_back(condition);
    }
    if (const int r = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ALLOW, nr, static_cast<unsigned>(conditions.size()),
                                             conditions.data());
        r != 0) {
      return hv::fail_errno(kOp, -r, "rule for " + rule.name);
    }
    if (std::find(names.begin(), names.end(), rule.name) == names.end()) names.push_back(rule.name);
  }
  // glibc's pthread_create tries clone3 first, whose flags live in memory a filter cannot read.
  if (const int r = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, nullptr); r != 0) {
    return hv::fail_errno(kOp, -r, "clone3");
  }
  // glibc's allocator opens /proc/sys/vm/overcommit_memory the first time it shrinks a thread's arena,
  // at any moment of a long run; a failed open only makes it keep the memory. Opening a path fails
  // with EACCES rather than killing the daemon (Landlock leaves no path to open in any case). Where a
  // list allows opening (a sanitizer build's, for its runtime), it stays allowed.
  for (const char* name : {"open", "openat"}) {
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    const int r =
        seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(EACCES), seccomp_syscall_resolve_name(name), 0, nullptr);
    if (r != 0) return hv::fail_errno(kOp, -r, name);
  }
  return std::make_pair(std::move(ctx), names.size());
}

}  // namespace

std::vector<SyscallRule> base_syscalls(int last_setup_fd) {
  std::vector<SyscallRule> rules = {
      // The vhost-user socket: accept a frontend, its messages (with descriptors), and poll with a timeout.
      {"accept4", {}},
      {"recvmsg", {}},
      {"recvfrom", {}},  // recv(2): a message's payload after its header
      {"sendmsg", {}},
      {"poll", {}},
      {"ppoll", {}},
      {"getsockopt", {equals(1, SOL_SOCKET)}},  // serve_frontends: is the socket listening?
      // Eventfds (kicks, calls, errors, the kick threads' stop event), closing.
      {"read", {}},
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
      // Threads: the kick threads and the devices' own (clone with CLONE_THREAD only: no new process).
      {"clone", {{0, CLONE_THREAD, CLONE_THREAD}}},
      {"futex", {}},
      {"set_robust_list", {}},
      {"rseq", {}},
      {"sched_yield", {}},
      // glibc's allocator asks the calling thread's CPU set (get_nprocs: sched_getaffinity(0, ...)) once,
      // when a thread needs an arena and 8 exist already: with a blk daemon's worker pools (two queues of
      // four) beside the kick threads, any thread may be that one. Only the caller's own (pid 0): a read
      // of nothing but its CPU mask.
      {"sched_getaffinity", {equals(0, 0)}},
      {"gettid", {}},
      {"getpid", {}},
      {"rt_sigprocmask", {}},
      {"rt_sigreturn", {}},
      {"restart_syscall", {}},
      {"tgkill", {equals(0, static_cast<std::uint64_t>(::getpid()))}},  // abort(): SIGABRT to itself
      {"clock_gettime", {}},
      {"exit", {}},
      {"exit_group", {}},
      // A ring thread loading its own, narrower filter: a new filter can only take calls away (the
      // strictest action of all a thread's filters wins); no flags, so no TSYNC onto other threads
      // and no listener.
      {"seccomp", {equals(0, SECCOMP_SET_MODE_FILTER), equals(1, 0)}},
  };
  // Eventfds (calls, errors, the kick threads' stop event), the log on stderr; the inflight region's
  // new memfd sized: never a file opened at setup (the image, an EEPROM file, a log file as stdout).
  stderr_or_new(rules, "write", last_setup_fd);
  stderr_or_new(rules, "writev", last_setup_fd);
  rules.push_back({"ftruncate", {arg_above(0, static_cast<std::uint64_t>(last_setup_fd))}});
  const auto more = sanitizer_syscalls();
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

std::vector<SyscallRule> ring_worker_syscalls(int last_setup_fd) {
  // MAP_PRIVATE | MAP_ANONYMOUS under the mapping-type bits: the allocator's memory, never a file's.
  constexpr std::uint64_t kTypeAndAnonymous = MAP_TYPE | MAP_ANONYMOUS;
  std::vector<SyscallRule> rules = {
      // The kick (and the stop event), then the device's work.
      {"poll", {}},
      {"ppoll", {}},
      {"read", {}},
      // Locks (the device's, the call table's), the allocator, a failed assertion's abort().
      {"futex", {}},
      {"sched_yield", {}},
      {"sched_getaffinity", {equals(0, 0)}},  // the allocator's arena limit (see above)
      {"mmap", {no_exec(2), {3, kTypeAndAnonymous, MAP_PRIVATE | MAP_ANONYMOUS}}},
      {"mprotect", {no_exec(2)}},
      {"munmap", {}},
      {"madvise", {}},
      {"mremap", {}},
      {"brk", {}},
      {"gettid", {}},
      {"getpid", {}},
      {"rt_sigprocmask", {}},
      {"rt_sigreturn", {}},
      {"restart_syscall", {}},
      {"tgkill", {equals(0, static_cast<std::uint64_t>(::getpid()))}},
      {"clock_gettime", {}},
      // The thread's end; the process's (--sandbox-debug's handler, a fatal error).
      {"exit", {}},
      {"exit_group", {}},
  };
  stderr_or_new(rules, "write", last_setup_fd);  // the call and error eventfds; stderr
  const auto more = sanitizer_syscalls();
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

hv::Result<std::size_t> install_seccomp(const std::vector<SyscallRule>& rules, bool debug, const std::string& program) {
  if (debug) {
    if (auto prepared = prepare_debug(program); !prepared) return tl::unexpected(prepared.error());
  }
  auto built = build(rules, debug);
  if (!built) return tl::unexpected(built.error());
  auto& [ctx, calls] = *built;
  if (const int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); r != 0)
    return hv::fail_errno(kOp, -r, "TSYNC");
  if (const int r = seccomp_load(ctx.get()); r != 0) return hv::fail_errno(kOp, -r, "seccomp_load");
  return calls;
}

hv::Result<ThreadFilter> compile_thread_filter(const std::vector<SyscallRule>& rules, bool debug) {
  auto built = build(rules, debug);
  if (!built) return tl::unexpected(built.error());
  auto& [ctx, calls] = *built;
  // libseccomp 2.5 exports to a descriptor only.
  const hv::UniqueFd out(::memfd_create("hvkit-seccomp-bpf", MFD_CLOEXEC));
  if (!out) return hv::fail_errno(kOp, errno, "memfd_create");
  if (const int r = seccomp_export_bpf(ctx.get(), out.get()); r != 0) return hv::fail_errno(kOp, -r, "export");
  struct stat st {};
  if (::fstat(out.get(), &st) != 0) return hv::fail_errno(kOp, errno, "fstat");
  const auto bytes = static_cast<std::size_t>(st.st_size);
  if (bytes == 0 || bytes % sizeof(sock_filter) != 0 || bytes / sizeof(sock_filter) > BPF_MAXINSNS) {
    return hv::fail(hv::ErrorKind::Internal, kOp, "exported filter of " + std::to_string(bytes) + " bytes");
  }
  ThreadFilter filter;
  filter.program_.resize(bytes / sizeof(sock_filter));
  if (::pread(out.get(), filter.program_.data(), bytes, 0) != static_cast<ssize_t>(bytes))
    return hv::fail_errno(kOp, errno, "read back");
  filter.calls_ = calls;
  return filter;
}

hv::Result<void> ThreadFilter::load_on_this_thread() const {
  if (program_.empty()) return {};
  // The kernel's struct has a non-const pointer; seccomp(2) only reads the program.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
  sock_fprog program{static_cast<unsigned short>(program_.size()), const_cast<sock_filter*>(program_.data())};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): syscall(2) is variadic in C; seccomp(2)'s three arguments.
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
    return hv::fail_errno(kOp, errno, "load a thread's filter");
  return {};
}

}  // namespace hvd
