#include "sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <system_error>
#include <thread>

#include "hv/vhost/backend_memory.hpp"
#include "hv/vhost/protocol.hpp"
#include "sandbox_landlock.hpp"
#include "sandbox_privileges.hpp"
#include "sandbox_sanitizer.hpp"

namespace hvd {
namespace {

// The largest descriptor open now (-1 if none can be seen: /proc not mounted).
int highest_open_fd() {
  const auto close_dir = [](DIR* d) { ::closedir(d); };
  const std::unique_ptr<DIR, decltype(close_dir)> dir(::opendir("/proc/self/fd"), close_dir);
  if (!dir) return -1;
  int highest = -1;
  while (const dirent* entry = ::readdir(dir.get())) {
    const char* name = &entry->d_name[0];
    if (*name < '0' || *name > '9') continue;  // "." and ".."
    highest = std::max(highest, static_cast<int>(std::strtol(name, nullptr, 10)));
  }
  return highest;
}

// Opens /dev/null until it lands above `highest`: every free number up to it is then taken.
hv::Result<std::vector<hv::UniqueFd>> fill_descriptor_gaps(int highest) {
  std::vector<hv::UniqueFd> placeholders;
  for (;;) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic in C.
    hv::UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) return hv::fail_errno("sandbox: /dev/null", errno);
    if (fd.get() > highest) return placeholders;  // closed again: it was past the last gap
    placeholders.push_back(std::move(fd));
  }
}

hv::Result<void> lower_limit(int resource, rlim_t value, const char* name) {
  rlimit current{};
  if (::getrlimit(resource, &current) != 0) return hv::fail_errno("sandbox: getrlimit", errno, name);
  const rlim_t wanted = std::min(value, current.rlim_max);
  const rlimit lowered{wanted, wanted};  // the hard limit too: it cannot be raised again
  if (::setrlimit(resource, &lowered) != 0) return hv::fail_errno("sandbox: setrlimit", errno, name);
  return {};
}

}  // namespace

std::size_t open_file_limit(int highest_fd, std::size_t rings) {
  // One session at a time holds at most: its connection; the memory table twice over while a
  // SET_MEM_TABLE replaces it (each region keeps its descriptor); one message's descriptors not yet
  // taken over; per ring a kick (and the kick thread's duplicate), a call, an error eventfd and the
  // kick thread's stop eventfd; the inflight region's memfd, the duplicate sent with GET_INFLIGHT_FD
  // and the region it replaces. The margin covers a sanitizer runtime's reads of /proc.
  constexpr std::size_t kMargin = 16;
  const std::size_t session = 1 + 2 * hv::vhost::kBackendMemSlots + hv::vhost::kMaxFdsPerMessage + 5 * rings + 3;
  return static_cast<std::size_t>(std::max(highest_fd, 2)) + 1 + session + kMargin;
}

hv::Result<Confinement> confine(const SandboxOptions& options, const SandboxNeeds& needs, const std::string& program) {
  Confinement result;
  if (!options.enabled) {
    result.summary = "sandbox off (--no-sandbox)";
    return result;
  }
  const bool root = ::geteuid() == 0;
  if (options.user && !root) {
    return hv::fail(hv::ErrorKind::PermissionDenied, "sandbox: --user", "needs the daemon started as root");
  }
  // A core dump would hold the guest memory the frontend shared.
  if (auto r = lower_limit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !r) return tl::unexpected(r.error());
  const int last_setup_fd = std::max(highest_open_fd(), STDERR_FILENO);
  auto placeholders = fill_descriptor_gaps(last_setup_fd);
  if (!placeholders) return tl::unexpected(placeholders.error());
  result.placeholders = std::move(*placeholders);
  const std::size_t files = open_file_limit(last_setup_fd, needs.rings);
  if (auto r = lower_limit(RLIMIT_NOFILE, files, "RLIMIT_NOFILE"); !r) return tl::unexpected(r.error());

  auto bounding = drop_bounding_set();
  if (!bounding) return tl::unexpected(bounding.error());
  if (options.user) {
    if (auto r = switch_user(*options.user); !r) return tl::unexpected(r.error());
  }
  if (auto r = clear_capabilities(); !r) return tl::unexpected(r.error());
  if (auto r = set_no_new_privs(); !r) return tl::unexpected(r.error());

  // glibc installs its SIGCANCEL/SIGSETXID handler (rt_sigaction) when the first thread starts: let a
  // thread start and end now, so that the kick threads need no rt_sigaction under the filter.
  try {
    std::thread([] {}).join();
  } catch (const std::system_error& e) {
    return hv::fail(hv::ErrorKind::ResourceExhausted, "sandbox", std::string("cannot start a thread: ") + e.what());
  }

  // Sanitizer runtimes read /proc/self (maps, task) at exit and in reports.
  std::vector<std::string> readable;
  if (kSanitizerBuild) readable.emplace_back("/proc");
  auto abi = restrict_filesystem(readable);
  if (!abi) return tl::unexpected(abi.error());

  const std::string ids = "uid " + std::to_string(::getuid()) + " gid " + std::to_string(::getgid());
  // The ring workers' filter is compiled now, while the process may still read back what libseccomp
  // exports; each worker loads it on itself when it starts (BackendSession::ThreadStart).
  std::vector<SyscallRule> ring_rules = ring_worker_syscalls(last_setup_fd);
  ring_rules.insert(ring_rules.end(), needs.policy.ring_syscalls.begin(), needs.policy.ring_syscalls.end());
  auto ring_filter = compile_thread_filter(ring_rules, options.debug);
  if (!ring_filter) return tl::unexpected(ring_filter.error());
  std::vector<SyscallRule> rules = base_syscalls(last_setup_fd);
  rules.insert(rules.end(), needs.policy.syscalls.begin(), needs.policy.syscalls.end());
  auto calls = install_seccomp(rules, options.debug, program);
  if (!calls) return tl::unexpected(calls.error());
  auto shared_filter = std::make_shared<const ThreadFilter>(std::move(*ring_filter));
  result.on_ring_thread = [shared_filter, program] {
    if (auto loaded = shared_filter->load_on_this_thread(); !loaded) {
      std::cerr << program << ": " << loaded.error().to_string() << std::endl;
      std::_Exit(1);  // a ring worker runs confined or not at all
    }
  };

  result.summary = "sandboxed: seccomp allows " + std::to_string(*calls) + " system calls, a ring worker " +
                   std::to_string(shared_filter->calls()) + " of them" +
                   (options.debug ? " (--sandbox-debug: a forbidden one is logged)" : "") + "; ";
  result.summary += *abi == 0 ? "no Landlock in this kernel, file system not restricted; "
                              : "Landlock ABI " + std::to_string(*abi) + ": no file-system access; ";
  result.summary += ids + ", no capabilities" + (*bounding ? "" : " (bounding set kept: not root)") + "; at most " +
                    std::to_string(files) + " open files";
  if (kSanitizerBuild) result.summary += "; sanitizer build: widened for its runtime";
  return result;
}

}  // namespace hvd
