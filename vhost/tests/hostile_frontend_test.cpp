// The hostile frontend against the real daemons (issue #17): each daemon is started once, as an
// operator would start it, and every attack of hostile_frontend_attacks.cpp runs on a fresh
// connection to it. After each one the daemon must still be alive (not a signal's death, not an
// exit), must have logged its clear error where the attack expects one, and must serve a
// well-behaved frontend: hv::vhost::Frontend connecting and negotiating as hvctl does, its
// GET_FEATURES answered with VERSION_1.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hostile_frontend_attacks.hpp"
#include "hv/vhost/frontend.hpp"

namespace {

using namespace std::chrono_literals;

// One daemon process in a temporary directory, stderr to daemon.log; SIGTERM and reaped at the end.
class DaemonProcess {
 public:
  // `argv` after the program: "@DIR@" in an argument is the directory.
  DaemonProcess(const std::string& program, std::vector<std::string> args) {
    char dir[] = "/tmp/hvkit-hostile-frontend-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    socket_ = dir_ + "/daemon.sock";
    std::vector<std::string> argv{program, "--socket-path", socket_};
    for (auto& a : args) {
      if (auto at = a.find("@DIR@"); at != std::string::npos) a.replace(at, 5, dir_);
      argv.push_back(a);
    }
    std::vector<char*> raw;  // built before the fork: the child only calls async-signal-safe functions
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    const std::string log = log_path();
    pid_ = ::fork();
    if (pid_ != 0) return;
    const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err >= 0) ::dup2(err, 2);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ~DaemonProcess() {
    if (pid_ > 0 && alive()) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Not exited, not killed (reaps it if it ended: the status goes to `ended_`).
  bool alive() {
    if (ended_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    ended_ = status;
    return false;
  }
  [[nodiscard]] std::string how_it_ended() const {
    if (!ended_) return "running";
    if (WIFSIGNALED(*ended_)) return "killed by signal " + std::to_string(WTERMSIG(*ended_));
    return "exited with status " + std::to_string(WEXITSTATUS(*ended_));
  }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  [[nodiscard]] const std::string& socket() const { return socket_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  [[nodiscard]] std::string log_path() const { return dir_ + "/daemon.log"; }
  std::string dir_, socket_;
  pid_t pid_ = -1;
  std::optional<int> ended_;
};

// A connection, retried while the daemon starts up (bounded).
hv::Result<hv::vhost::Channel> connect_to(DaemonProcess& daemon) {
  const auto deadline = std::chrono::steady_clock::now() + hvtest::kWait;
  for (;;) {
    auto c = hv::vhost::Channel::connect(daemon.socket());
    if (c || std::chrono::steady_clock::now() > deadline || !daemon.alive()) return c;
    std::this_thread::sleep_for(10ms);
  }
}

// The well-behaved frontend hvctl is: connects, negotiates, and finds VERSION_1 offered.
void expect_serves_a_frontend(DaemonProcess& daemon) {
  ASSERT_TRUE(daemon.alive()) << daemon.how_it_ended() << "\n" << daemon.log();
  auto channel = connect_to(daemon);
  ASSERT_TRUE(channel) << channel.error().to_string() << "\n" << daemon.log();
  auto frontend = hv::vhost::Frontend::start(std::move(*channel), {.timeout = hvtest::kWait});
  ASSERT_TRUE(frontend) << frontend.error().to_string() << "\n" << daemon.log();
  EXPECT_NE(frontend->backend_features() & hv::virtio::kFeatureVersion1, 0U);
}

void run_every_attack(DaemonProcess& daemon) {
  ASSERT_GT(daemon.pid(), 0);
  expect_serves_a_frontend(daemon);
  for (const auto& attack : hvtest::frontend_attacks()) {
    SCOPED_TRACE(attack.name);
    const std::size_t log_before = daemon.log().size();
    {
      auto channel = connect_to(daemon);
      ASSERT_TRUE(channel) << channel.error().to_string();
      hvtest::HostileFrontendPeer peer(std::move(*channel));
      attack.run(peer);
    }  // the attacker leaves: the connection closes
    expect_serves_a_frontend(daemon);
    if (::testing::Test::HasFatalFailure()) return;
    // The attack's session has ended (the daemon serves one frontend at a time): its lines are in.
    const std::string gained = daemon.log().substr(log_before);
    if (attack.log != nullptr) {
      EXPECT_NE(gained.find(attack.log), std::string::npos) << gained;
    }
    std::printf("[ attack   ] %-40s survived, served the next frontend\n", attack.name);
  }
  EXPECT_TRUE(daemon.alive()) << daemon.how_it_ended();
}

TEST(HostileFrontend, BlkDaemonSurvivesEveryAttack) {
  char dir[] = "/tmp/hvkit-hostile-image-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string image = std::string(dir) + "/disk.img";
  {
    std::ofstream(image).close();
    ASSERT_EQ(::truncate(image.c_str(), 1 << 20), 0);
    DaemonProcess daemon(HVKIT_VHOST_USER_BLK, {"--blk-file", image});
    run_every_attack(daemon);
  }
  ::unlink(image.c_str());
  ::rmdir(dir);
}

TEST(HostileFrontend, RngDaemonSurvivesEveryAttack) {
  DaemonProcess daemon(HVKIT_VHOST_USER_RNG, {});
  run_every_attack(daemon);
}

TEST(HostileFrontend, I2cDaemonSurvivesEveryAttack) {
  DaemonProcess daemon(HVKIT_VHOST_USER_I2C, {"--eeprom", "0x50"});
  run_every_attack(daemon);
}

}  // namespace
