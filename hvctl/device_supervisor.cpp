#include "device_supervisor.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include "hv/unique_fd.hpp"

namespace hvctl {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{20};
constexpr std::chrono::milliseconds kWatchInterval{100};

std::string describe(int status) {
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}

// Starts `spec` with --socket-path `socket`. The child gets only what it needs: standard input from
// /dev/null, standard output onto hvctl's standard error (hvctl's standard output is the guest's
// console), standard error inherited (the daemons prefix their lines with their name), no other
// descriptor, no blocked or ignored signals (hvctl blocks SIGINT and SIGTERM for its watcher and
// ignores SIGPIPE), its own process group (a terminal's ^C reaches hvctl, which ends its children in
// order) and SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so that a killed hvctl
// leaves no daemon behind. The environment is inherited (sanitizer and coverage settings).
tl::expected<pid_t, std::string> spawn(const DeviceProcessSpec& spec, const std::string& socket) {
  std::vector<std::string> words{spec.program};
  words.insert(words.end(), spec.args.begin(), spec.args.end());
  words.emplace_back("--socket-path");
  words.push_back(socket);
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  const hv::UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return tl::unexpected(std::string("cannot open /dev/null: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return tl::unexpected(std::string("cannot start a process: ") + std::strerror(errno));
  if (pid > 0) return pid;
  // The child of a threaded process: async-signal-safe calls only, then exec.
  (void)::setpgid(0, 0);
  // Checked after the prctl: a parent that died before it would never send the signal.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
  if (::dup2(devnull.get(), STDIN_FILENO) < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) ::_exit(127);
  if (::close_range(STDERR_FILENO + 1, ~0U, 0) != 0) ::_exit(127);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &default_action, nullptr);  // fails for KILL, STOP
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Waits for `pid` to end for at most `timeout`; true if it did (and is reaped).
bool reaped_within(pid_t pid, std::chrono::milliseconds timeout, int& status) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

void kill_and_reap(pid_t pid) {
  (void)::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

DeviceSupervisor::~DeviceSupervisor() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void DeviceSupervisor::remove_files(const Child& child) {
  (void)::unlink(child.socket.c_str());
  (void)::rmdir(child.directory.c_str());
}

tl::expected<std::string, std::string> DeviceSupervisor::start(DeviceProcessSpec spec) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  std::string pattern = base + "/hvctl-isolate-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {  // mode 0700: only hvctl's user can reach the socket
    return tl::unexpected("cannot make a directory under " + base + ": " + std::strerror(errno));
  }
  auto child = std::make_unique<Child>();
  child->directory = pattern;
  {
    const std::lock_guard lock(mutex_);
    child->socket = pattern + "/dev" + std::to_string(children_.size()) + ".sock";
  }
  child->spec = std::move(spec);
  if (child->socket.size() >= sizeof(sockaddr_un::sun_path)) {
    remove_files(*child);
    return tl::unexpected("the socket path " + child->socket + " is too long for a Unix socket (set TMPDIR shorter)");
  }
  auto pid = spawn(child->spec, child->socket);
  if (!pid) {
    remove_files(*child);
    return tl::unexpected(pid.error());
  }
  const auto deadline = Clock::now() + kListenTimeout;
  for (;;) {
    struct stat st {};
    if (::lstat(child->socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) break;
    int status = 0;
    if (::waitpid(*pid, &status, WNOHANG) == *pid) {
      remove_files(*child);
      return tl::unexpected(child->spec.program + " ended (" + describe(status) + ") before it listened");
    }
    if (Clock::now() >= deadline) {
      kill_and_reap(*pid);
      remove_files(*child);
      return tl::unexpected(child->spec.program + " did not listen at " + child->socket + " within " +
                            std::to_string(kListenTimeout.count()) + " s");
    }
    std::this_thread::sleep_for(kPoll);
  }
  child->pid = *pid;
  std::string socket = child->socket;
  const std::lock_guard lock(mutex_);
  if (!watcher_.joinable()) {
    // The watcher takes no signal: hvctl's StopWatcher waits for SIGINT and SIGTERM with every other
    // thread blocking them.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
      watcher_ = std::thread([this] { watch(); });
    } catch (const std::system_error& e) {
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      kill_and_reap(child->pid);
      remove_files(*child);
      return tl::unexpected(std::string("cannot start the thread that watches device processes: ") + e.what());
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  children_.push_back(std::move(child));
  return socket;
}

std::vector<pid_t> DeviceSupervisor::pids() const {
  const std::lock_guard lock(mutex_);
  std::vector<pid_t> running;
  for (const auto& child : children_) {
    if (child->pid > 0) running.push_back(child->pid);
  }
  return running;
}

bool DeviceSupervisor::on_give_up(const std::string& socket, std::function<void()> callback) {
  const std::lock_guard lock(mutex_);
  for (auto& child : children_) {
    if (child->socket == socket) {
      child->give_up = std::move(callback);
      return true;
    }
  }
  return false;
}

void DeviceSupervisor::watch() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kWatchInterval);
    if (stopping_) break;
    for (auto& child : children_) {
      if (child->pid > 0) reap(*child);
    }
  }
  terminate_all();
}

void DeviceSupervisor::reap(Child& child) {
  int status = 0;
  const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) return;
  const pid_t dead = child.pid;
  const char* label = child.spec.label.c_str();
  child.pid = 0;
  if (r < 0) {
    std::fprintf(stderr, "hvctl run: %s: cannot watch device process %d: %s\n", label, dead, std::strerror(errno));
    return;
  }
  const std::string how = describe(status);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    std::fprintf(stderr, "hvctl run: %s: device process %d ended (%s); not restarting\n", label, dead, how.c_str());
    return;
  }
  const auto now = Clock::now();
  while (!child.restarts.empty() && now - child.restarts.front() >= kRestartWindow) child.restarts.pop_front();
  // The frontend's reconnect attempts find no socket, and the device stays without a backend.
  (void)::unlink(child.socket.c_str());
  if (child.restarts.size() >= kMaxRestarts) {
    std::fprintf(stderr,
                 "hvctl run: %s: device process %d died (%s); %zu restarts within %lld s, giving up: the device "
                 "needs a reset (DEVICE_NEEDS_RESET) and stays without a backend, the guest keeps running\n",
                 label, dead, how.c_str(), child.restarts.size(), static_cast<long long>(kRestartWindow.count()));
    if (child.give_up) std::exchange(child.give_up, nullptr)();
    return;
  }
  std::fprintf(stderr, "hvctl run: %s: device process %d died (%s); restarting\n", label, dead, how.c_str());
  child.restarts.push_back(now);
  auto pid = spawn(child.spec, child.socket);
  if (!pid) {
    std::fprintf(stderr, "hvctl run: %s: cannot restart the device process: %s\n", label, pid.error().c_str());
    return;
  }
  child.pid = *pid;
}

void DeviceSupervisor::terminate_all() {
  for (const auto& child : children_) {
    if (child->pid > 0) (void)::kill(child->pid, SIGTERM);
  }
  const auto deadline = Clock::now() + kTerminateTimeout;
  for (const auto& child : children_) {
    if (child->pid <= 0) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int status = 0;
    if (!reaped_within(child->pid, std::max(left, std::chrono::milliseconds(0)), status)) kill_and_reap(child->pid);
    child->pid = 0;
  }
  for (const auto& child : children_) remove_files(*child);
}

}  // namespace hvctl
