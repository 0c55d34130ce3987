#pragma once
// `hvctl run --isolate`: the vhost-user device daemons hvctl starts itself, one child process per
// device, each listening in a private directory, restarted when it dies abnormally and terminated when
// hvctl ends. The daemons' own sandbox is theirs (docs/sandbox.md); this file only spawns and watches.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

namespace hvctl {

// One device daemon: `program args... --socket-path SOCKET`.
struct DeviceProcessSpec {
  std::string label;              // the option it serves, for the log ("--blk disk.img", "--rng")
  std::string program;            // the daemon's path
  std::vector<std::string> args;  // its options, without --socket-path
};

class DeviceSupervisor {
 public:
  // A child that dies abnormally (a signal, a nonzero exit) more often than this within the window is
  // not started again: something is wrong with it. Its device is given up on (on_give_up: it needs a
  // reset) and the guest keeps running without it.
  static constexpr std::size_t kMaxRestarts = 5;
  static constexpr std::chrono::seconds kRestartWindow{60};
  // How long start() waits for a new daemon's socket, and the destructor for SIGTERM to work.
  static constexpr std::chrono::seconds kListenTimeout{5};
  static constexpr std::chrono::seconds kTerminateTimeout{2};

  DeviceSupervisor() = default;
  DeviceSupervisor(const DeviceSupervisor&) = delete;
  DeviceSupervisor& operator=(const DeviceSupervisor&) = delete;
  // Stops watching, terminates every child (SIGTERM, then SIGKILL after kTerminateTimeout), reaps it
  // and removes its socket and directory.
  ~DeviceSupervisor();

  // Makes a private directory (mode 0700, under $TMPDIR or /tmp), starts `spec` listening at
  // DIR/devN.sock and waits (at most kListenTimeout) until the socket exists. The socket's path, or
  // why the daemon could not be started (nothing is left behind then). From then on the child is
  // watched: an abnormal death is reported on stderr and the daemon started again on the same path.
  tl::expected<std::string, std::string> start(DeviceProcessSpec spec);

  // What to do when the daemon listening at `socket` (start()'s answer) is given up on (kMaxRestarts):
  // VhostUserDevice::give_up, which makes the device need a reset. Called once, from the watcher
  // thread with the supervisor's lock held (it must not call back into the supervisor). False for a
  // socket this supervisor did not start.
  bool on_give_up(const std::string& socket, std::function<void()> callback);

  // The pids of the children running now (for tests and logs).
  [[nodiscard]] std::vector<pid_t> pids() const;

 private:
  struct Child {
    DeviceProcessSpec spec;
    std::string directory;
    std::string socket;
    pid_t pid = 0;  // 0: not running (gave up, or ended with status 0)
    std::deque<std::chrono::steady_clock::time_point> restarts;
    std::function<void()> give_up;  // on_give_up()'s
  };

  void watch();             // the watcher thread
  void reap(Child& child);  // called with mutex_ held
  void terminate_all();     // called by the watcher thread as it ends
  static void remove_files(const Child& child);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Child>> children_;
  // Started with the first child. It also restarts children, and a child dies with the thread that
  // forked it (PR_SET_PDEATHSIG), so it terminates them all before it returns.
  std::thread watcher_;
};

}  // namespace hvctl
