// The installed daemons as programs: hvkit-vhost-user-blk started on a temporary image with
// --socket-path, driven by a scripted frontend through the socket (a read and a write end to end),
// then a second frontend after the first disconnected (the device reset in between, the image kept),
// and every thread of it under the sandbox's filter, the ring worker under one more of its own;
// hvkit-vhost-user-rng handed a connected socket with --fd, serving it and exiting 0 when it closes.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "scripted_frontend.hpp"

namespace {

using namespace std::chrono_literals;
using hv::vhost::Channel;
using hv::vhost::Request;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockSplitDriver;
using hvtest::kData;
using hvtest::kRings;

// Starts `argv` with stderr to `log` and, when `inherit` >= 0, that descriptor as descriptor 3.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, int inherit = -1) {
  std::vector<char*> args;  // built before the fork: the child only calls async-signal-safe functions
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err >= 0) ::dup2(err, 2);
  if (inherit >= 0) ::dup2(inherit, 3);  // dup2 clears close-on-exec on the copy
  ::execv(args[0], args.data());
  ::_exit(127);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class BlkDaemonTest : public ::testing::Test, public hvtest::ScriptedFrontend {
 protected:
  void SetUp() override {
    make_ram();
    char dir[] = "/tmp/hvkit-vhost-daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    image_ = dir_ + "/disk.img";
    const int fd = ::open(image_.c_str(), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
    sector5_.resize(512);
    for (std::size_t i = 0; i < 512; ++i) sector5_[i] = static_cast<std::uint8_t>(i ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, sector5_.data(), 512, 5 * 512), 512);
    ::close(fd);
    socket_ = dir_ + "/blk.sock";
    pid_ = spawn({HVKIT_VHOST_USER_BLK, "--socket-path", socket_, "--blk-file", image_}, dir_ + "/daemon.log");
    ASSERT_GT(pid_, 0);
  }
  void TearDown() override {
    frontend_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);  // the conventions: SIGTERM ends the daemon
      int status = 0;
      ::waitpid(pid_, &status, 0);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
    }
    for (const char* f : {"/disk.img", "/blk.sock", "/daemon.log"}) ::unlink((dir_ + f).c_str());
    ::rmdir(dir_.c_str());
  }
  // Connects, retrying while the daemon starts (bounded).
  void connect() {
    const auto deadline = std::chrono::steady_clock::now() + hvtest::kWait;
    for (;;) {
      auto c = Channel::connect(socket_);
      if (c) {
        frontend_ = std::make_unique<Channel>(std::move(*c));
        return;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << c.error().to_string() << "\n" << daemon_log();
      std::this_thread::sleep_for(10ms);
    }
  }
  std::string daemon_log() { return read_file(dir_ + "/daemon.log"); }
  // One request through `driver`: header (type, sector) at `at`, data at at + 0x100, status at at + 0x300.
  std::uint8_t request(MockSplitDriver& driver, std::uint32_t type, std::uint64_t sector, std::uint64_t at) {
    EXPECT_TRUE(memory_.write_obj(at, std::array<std::uint64_t, 2>{type, sector}));
    EXPECT_TRUE(memory_.write_obj<std::uint8_t>(at + 0x300, 0xaa));
    const std::array<BufferSpec, 3> chain{{{at, 16, false}, {at + 0x100, 512, type == 0}, {at + 0x300, 1, true}}};
    driver.make_available(driver.add_chain(chain));
    EXPECT_TRUE(kick_and_wait()) << daemon_log();
    return memory_.read_obj<std::uint8_t>(at + 0x300).value_or(0xee);
  }

  std::string dir_, image_, socket_;
  std::vector<std::uint8_t> sector5_;
  pid_t pid_ = -1;
};

TEST_F(BlkDaemonTest, ServesReadsAndWritesAndTheNextFrontend) {
  connect();
  negotiate(0);
  {
    MockSplitDriver driver(memory_, kRings, 16);
    start_split(driver);
    ASSERT_EQ(request(driver, 0, 5, kData), 0);  // IN sector 5
    std::vector<std::uint8_t> got(512);
    ASSERT_TRUE(memory_.read(kData + 0x100, got));
    EXPECT_EQ(got, sector5_);
    // OUT: the same bytes to sector 8.
    ASSERT_TRUE(memory_.write(kData + 0x1100, got));
    ASSERT_EQ(request(driver, 1, 8, kData + 0x1000), 0);
  }
  std::vector<std::uint8_t> on_disk(512);
  const int fd = ::open(image_.c_str(), O_RDONLY);
  ASSERT_EQ(::pread(fd, on_disk.data(), 512, 8 * 512), 512);
  ::close(fd);
  EXPECT_EQ(on_disk, sector5_);

  // The frontend goes; the next one gets a device as new, over fresh rings.
  frontend_.reset();
  connect();
  negotiate(0);
  MockSplitDriver again(memory_, kRings + 0x8000, 16);
  start_split(again);
  ASSERT_EQ(request(again, 0, 8, kData + 0x2000), 0);
  std::vector<std::uint8_t> got(512);
  ASSERT_TRUE(memory_.read(kData + 0x2100, got));
  EXPECT_EQ(got, sector5_);
  const std::string log = daemon_log();
  EXPECT_NE(log.find("listening on " + socket_), std::string::npos) << log;
  EXPECT_NE(log.find("device reset, waiting for the next"), std::string::npos) << log;
}

// The value of `name` in a /proc status file ("" if it has none).
std::string status_field(const std::string& status_path, const std::string& name) {
  std::istringstream status(read_file(status_path));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size() + 1));
  }
  return {};
}

// Each task of the process: its id and its status file's path.
std::map<std::string, std::string> tasks_of(pid_t pid) {
  std::map<std::string, std::string> tasks;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return tasks;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = &entry->d_name[0];
    if (name != "." && name != "..") tasks[name] = dir + "/" + name + "/status";
  }
  ::closedir(d);
  return tasks;
}

// docs/sandbox.md: every thread runs under the process's filter (Seccomp 2), and the ring worker (the
// kick thread) under one more, its own narrower list, loaded when it started: Seccomp_filters (Linux
// 5.9) counts them. The main thread and the device's I/O thread have the process's only.
TEST_F(BlkDaemonTest, EveryThreadIsFilteredAndTheRingWorkerNarrower) {
  connect();
  negotiate(0);
  MockSplitDriver driver(memory_, kRings, 16);
  start_split(driver);
  ASSERT_EQ(request(driver, 0, 5, kData), 0);  // the ring worker and the I/O thread are running
  const std::string main_status = "/proc/" + std::to_string(pid_) + "/status";
  const std::string main_filters = status_field(main_status, "Seccomp_filters");
  const auto tasks = tasks_of(pid_);
  ASSERT_GE(tasks.size(), 3U) << daemon_log();  // main, the I/O thread, the ring worker
  int narrower = 0;
  for (const auto& [tid, status] : tasks) {
    EXPECT_EQ(status_field(status, "Seccomp"), "2") << "task " << tid;
    if (main_filters.empty()) continue;  // a kernel before 5.9 does not count them
    const std::string filters = status_field(status, "Seccomp_filters");
    if (filters == std::to_string(std::stoi(main_filters) + 1)) {
      ++narrower;
    } else {
      EXPECT_EQ(filters, main_filters) << "task " << tid;
    }
  }
  if (main_filters.empty()) GTEST_SKIP() << "no Seccomp_filters in /proc/PID/status (Linux before 5.9)";
  EXPECT_EQ(main_filters, "1");
  EXPECT_EQ(narrower, 1) << "one ring, one ring worker with its own filter";
}

TEST(RngDaemon, ServesAConnectedDescriptorAndExitsWhenItCloses) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  // The daemon's end as descriptor 3, handed over with --fd 3; ours stays here.
  const pid_t pid = spawn({HVKIT_VHOST_USER_RNG, "--fd=3"}, "/dev/null", pair->second.fd());
  ASSERT_GT(pid, 0);
  { const Channel theirs = std::move(pair->second); }  // close our copy of their end
  Channel& ours = pair->first;
  ASSERT_TRUE(ours.send(hv::vhost::make_message(Request::GetQueueNum)));
  auto reply = ours.receive(hvtest::kWait);
  ASSERT_TRUE(reply) << reply.error().to_string();
  EXPECT_EQ(hv::vhost::payload_as<std::uint64_t>(*reply).value_or(0), 1U);
  { const Channel gone = std::move(ours); }  // the frontend leaves: the daemon ends
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
