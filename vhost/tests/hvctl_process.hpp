#pragma once
// `hvctl run` as a child process for the hostile-backend test: started with stdout and stderr to
// files, waited for with a bound (a run still going after it is a hang: killed, and reported so), and
// its end described (an exit status, or the signal that killed it).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace hvtest {

class HvctlProcess {
 public:
  HvctlProcess(std::vector<std::string> argv, const std::string& out, const std::string& err) {
    std::vector<char*> raw;  // built before the fork: the child only calls async-signal-safe functions
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ != 0) return;
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (o < 0 || e < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ~HvctlProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  HvctlProcess(const HvctlProcess&) = delete;
  HvctlProcess& operator=(const HvctlProcess&) = delete;

  // Waits up to `bound` for the end; false (and the process killed) if it did not come.
  bool wait(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!status_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  [[nodiscard]] bool running() {
    if (status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return !status_;
  }
  // The exit status, or nullopt when it did not exit (a signal, or still running).
  [[nodiscard]] std::optional<int> exit_status() const {
    if (!status_ || !WIFEXITED(*status_)) return std::nullopt;
    return WEXITSTATUS(*status_);
  }
  [[nodiscard]] std::string how_it_ended() const {
    if (!status_) return "still running";
    if (WIFSIGNALED(*status_)) return "killed by signal " + std::to_string(WTERMSIG(*status_));
    return "exit " + std::to_string(WEXITSTATUS(*status_));
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace hvtest
