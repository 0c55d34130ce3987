// The daemons' sandbox (vhost/daemons/sandbox.hpp) applied in a child process: each daemon's policy lets
// through what it serves with and kills the process on anything else; a ring worker (a thread that ran
// the confinement's ring-thread hook) is held to its narrower list; write-type calls reach only their
// files; --sandbox-debug names the call; Landlock closes the file system; --user cannot be undone.
// Death tests: each confines a forked child.
#include <fcntl.h>
#include <sched.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "sandbox.hpp"
#include "sandbox_landlock.hpp"
#include "sandbox_policies.hpp"
#include "sandbox_privileges.hpp"
#include "sandbox_sanitizer.hpp"

namespace {

using hvd::SandboxNeeds;
using hvd::SandboxOptions;

// Confines this (child) process as the daemon `needs` describes, or exits 3 saying why. The result
// is kept for as long as the child runs, as the daemon keeps it.
hvd::Confinement confine_as(const SandboxNeeds& needs, bool debug = false) {
  SandboxOptions options;
  options.debug = debug;
  auto confined = hvd::confine(options, needs, "sandbox-test");
  if (!confined) {
    (void)std::fprintf(stderr, "confine: %s\n", confined.error().to_string().c_str());
    std::_Exit(3);
  }
  return std::move(*confined);
}

// A new temporary file, open for reading and writing (already unlinked), or exits 3.
int scratch_file() {
  std::string path = "/tmp/hvkit-sandbox-test-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0 || ::ftruncate(fd, 4096) != 0) std::_Exit(3);
  ::unlink(path.c_str());
  return fd;
}

SandboxNeeds blk_with(int image) { return {hvd::blk_policy({image}), 1}; }
const SandboxNeeds kBlk{hvd::blk_policy({}), 1};  // no image: only the calls on no descriptor
const SandboxNeeds kRng{hvd::rng_policy(), 1};
const SandboxNeeds kI2c{hvd::i2c_policy({}), 1};

// Runs `work` on a new thread that first ran the confinement's ring-thread hook (as a kick thread
// does), and joins it.
template <typename Work>
void on_ring_worker(const hvd::Confinement& confined, Work work) {
  std::thread worker([&] {
    confined.on_ring_thread();
    work();
  });
  worker.join();
}

class SandboxDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SandboxDeathTest, EachDaemonServesWithWhatItsPolicyAllows) {
  const auto serve_blk = [] {
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    std::array<char, 8> bytes{};
    const iovec iov{bytes.data(), bytes.size()};
    const bool served = ::preadv(image, &iov, 1, 0) == 8 && ::pwritev(image, &iov, 1, 8) == 8 &&
                        ::pwrite(image, bytes.data(), bytes.size(), 16) == 8 && ::fdatasync(image) == 0;
    (void)::fallocate(image, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1);  // any result: allowed
    std::_Exit(served ? 0 : 4);
  };
  EXPECT_EXIT(serve_blk(), ::testing::ExitedWithCode(0), "");
  // The data path is preadv/pwritev: plain pread is no longer part of the blk daemon's policy.
  const auto blk_pread = [] {
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    std::array<char, 8> bytes{};
    (void)::pread(image, bytes.data(), bytes.size(), 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(blk_pread(), ::testing::KilledBySignal(SIGSYS), "");
  const auto serve_rng = [] {
    confine_as(kRng);
    std::array<unsigned char, 16> bytes{};
    std::_Exit(::getrandom(bytes.data(), bytes.size(), 0) == 16 ? 0 : 4);
  };
  EXPECT_EXIT(serve_rng(), ::testing::ExitedWithCode(0), "");
  const auto serve_i2c = [] {
    confine_as(kI2c);
    // I2C_RDWR on a descriptor that is no I2C bus: the kernel refuses it (ENOTTY), the filter does not.
    std::_Exit(::ioctl(STDERR_FILENO, 0x0707, nullptr) < 0 ? 0 : 4);
  };
  EXPECT_EXIT(serve_i2c(), ::testing::ExitedWithCode(0), "");
}

TEST_F(SandboxDeathTest, AForbiddenCallKillsTheProcessWithSigsys) {
  const auto inet_socket = [](const SandboxNeeds& needs) {
    confine_as(needs);
    (void)::socket(AF_INET, SOCK_STREAM, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(inet_socket(kBlk), ::testing::KilledBySignal(SIGSYS), "");
  EXPECT_EXIT(inet_socket(kRng), ::testing::KilledBySignal(SIGSYS), "");
  EXPECT_EXIT(inet_socket(kI2c), ::testing::KilledBySignal(SIGSYS), "");
  const auto exec = [] {
    confine_as(kRng);
    std::array<char*, 1> no_args{nullptr};
    (void)::execve("/bin/true", no_args.data(), no_args.data());
    std::_Exit(0);
  };
  EXPECT_EXIT(exec(), ::testing::KilledBySignal(SIGSYS), "");
}

TEST_F(SandboxDeathTest, ANewProcessIsForbidden) {
  if (hvd::kSanitizerBuild) GTEST_SKIP() << "sanitizer builds allow any clone (LeakSanitizer's tracer)";
  const auto fork_process = [] {  // clone without CLONE_THREAD: a new process
    confine_as(kBlk);
    (void)::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(fork_process(), ::testing::KilledBySignal(SIGSYS), "");
}

TEST_F(SandboxDeathTest, ArgumentFiltersNarrowAnAllowedCall) {
  const auto other_ioctl = [] {  // TIOCSTI: not one of the three I2C requests
    confine_as(kI2c);
    char c = 'x';
    (void)::ioctl(STDIN_FILENO, TIOCSTI, &c);
    std::_Exit(0);
  };
  EXPECT_EXIT(other_ioctl(), ::testing::KilledBySignal(SIGSYS), "");
  const auto grow_image = [] {  // fallocate without FALLOC_FL_KEEP_SIZE could grow the image
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    (void)::fallocate(image, 0, 0, 8192);
    std::_Exit(0);
  };
  EXPECT_EXIT(grow_image(), ::testing::KilledBySignal(SIGSYS), "");
  const auto executable_mapping = [] {
    confine_as(kRng);
    (void)::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(executable_mapping(), ::testing::KilledBySignal(SIGSYS), "");
  const auto other_daemons_call = [] {  // rng has no pread
    confine_as(kRng);
    std::array<char, 8> bytes{};
    (void)::pread(STDERR_FILENO, bytes.data(), bytes.size(), 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(other_daemons_call(), ::testing::KilledBySignal(SIGSYS), "");
}

// pwrite64, fdatasync and fallocate reach the image only; write, writev and ftruncate stderr and
// descriptors made after confinement (eventfds, the inflight memfd), never a file opened at setup.
TEST_F(SandboxDeathTest, WriteCallsReachOnlyTheirFiles) {
  const auto pwrite_elsewhere = [] {
    const int image = scratch_file();
    const int other = scratch_file();
    const auto confined = confine_as(blk_with(image));
    (void)::pwrite(other, "x", 1, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(pwrite_elsewhere(), ::testing::KilledBySignal(SIGSYS), "");
  const auto truncate_image = [] {
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    (void)::ftruncate(image, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(truncate_image(), ::testing::KilledBySignal(SIGSYS), "");
  const auto write_image = [] {  // write(2) at the file offset: not a way around pwrite64's rule
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    (void)::write(image, "x", 1);
    std::_Exit(0);
  };
  EXPECT_EXIT(write_image(), ::testing::KilledBySignal(SIGSYS), "");
  const auto new_descriptors = [] {  // what the session makes while serving stays writable
    const auto confined = confine_as(kRng);
    const int region = ::memfd_create("inflight", MFD_CLOEXEC);
    const int event = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const std::uint64_t one = 1;
    const bool ok = region >= 0 && ::ftruncate(region, 4096) == 0 && event >= 0 &&
                    ::write(event, &one, sizeof one) == sizeof one && ::write(STDERR_FILENO, "", 0) == 0;
    std::_Exit(ok ? 0 : 4);
  };
  EXPECT_EXIT(new_descriptors(), ::testing::ExitedWithCode(0), "");
}

// A ring worker does what a kick needs: poll and read the kick, the device's work, write the call.
TEST_F(SandboxDeathTest, ARingWorkerServesAKick) {
  const auto rng_kick = [] {
    const auto confined = confine_as(kRng);
    const int kick = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    const int call = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    bool ok = false;
    on_ring_worker(confined, [&] {
      pollfd fds{kick, POLLIN, 0};
      std::uint64_t count = 0;
      std::array<unsigned char, 16> bytes{};
      const std::uint64_t one = 1;
      ok = ::poll(&fds, 1, 0) == 1 && ::read(kick, &count, sizeof count) == sizeof count &&
           ::getrandom(bytes.data(), bytes.size(), 0) == 16 && ::write(call, &one, sizeof one) == sizeof one;
    });
    std::_Exit(ok ? 0 : 4);
  };
  EXPECT_EXIT(rng_kick(), ::testing::ExitedWithCode(0), "");
  const auto i2c_write_back = [] {
    const int eeprom = scratch_file();
    const auto confined = confine_as({hvd::i2c_policy({eeprom}), 1});
    bool ok = false;
    on_ring_worker(confined, [&] { ok = ::pwrite(eeprom, "x", 1, 0) == 1; });
    std::_Exit(ok ? 0 : 4);
  };
  EXPECT_EXIT(i2c_write_back(), ::testing::ExitedWithCode(0), "");
}

// glibc's allocator reads the calling thread's CPU set once, from whichever thread first needs a ninth
// arena: every thread may read its own (pid 0), no thread another process's.
TEST_F(SandboxDeathTest, EveryThreadMayReadItsOwnCpuSetOnly) {
  const auto own_cpu_set = [](bool on_ring) {
    const auto confined = confine_as(kBlk);
    bool ok = false;
    const auto read_own = [&] {
      cpu_set_t set{};
      ok = ::sched_getaffinity(0, sizeof set, &set) == 0;
    };
    if (on_ring) {
      on_ring_worker(confined, read_own);
    } else {
      read_own();
    }
    std::_Exit(ok ? 0 : 3);
  };
  EXPECT_EXIT(own_cpu_set(false), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(own_cpu_set(true), ::testing::ExitedWithCode(0), "");
  if (hvd::kSanitizerBuild)
    GTEST_SKIP() << "sanitizer builds allow sched_getaffinity with any pid (the sanitizer runtime)";
  const auto parents_cpu_set = [] {
    const pid_t parent = ::getppid();
    confine_as(kBlk);
    cpu_set_t set{};
    (void)::sched_getaffinity(parent, sizeof set, &set);
    std::_Exit(0);
  };
  EXPECT_EXIT(parents_cpu_set(), ::testing::KilledBySignal(SIGSYS), "");
}

// What the control thread may do and a ring worker may not: vhost-user messages, new memory from a
// descriptor, new descriptors, new threads. The same call passes on the control thread.
TEST_F(SandboxDeathTest, ARingWorkerIsHeldToItsNarrowerList) {
  const auto receive = [](bool on_ring) {
    std::array<int, 2> pair{};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()) != 0) std::_Exit(3);
    const auto confined = confine_as(kRng);
    const auto try_receive = [&] {
      std::array<char, 4> byte{};
      (void)::recv(pair[0], byte.data(), byte.size(), MSG_DONTWAIT);
      msghdr message{};
      (void)::recvmsg(pair[0], &message, MSG_DONTWAIT);
    };
    if (on_ring) {
      on_ring_worker(confined, try_receive);
    } else {
      try_receive();
    }
    std::_Exit(0);
  };
  EXPECT_EXIT(receive(false), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(receive(true), ::testing::KilledBySignal(SIGSYS), "");
  const auto map_a_descriptor = [] {  // guest memory is mapped by the control thread only
    const auto confined = confine_as(kRng);
    const int region = ::memfd_create("region", MFD_CLOEXEC);
    if (region < 0 || ::ftruncate(region, 4096) != 0) std::_Exit(3);
    on_ring_worker(confined, [&] { (void)::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0); });
    std::_Exit(0);
  };
  EXPECT_EXIT(map_a_descriptor(), ::testing::KilledBySignal(SIGSYS), "");
  const auto new_descriptor = [] {
    const auto confined = confine_as(kRng);
    on_ring_worker(confined, [] { (void)::eventfd(0, EFD_CLOEXEC); });
    std::_Exit(0);
  };
  EXPECT_EXIT(new_descriptor(), ::testing::KilledBySignal(SIGSYS), "");
  const auto new_thread = [] {
    const auto confined = confine_as(kRng);
    on_ring_worker(confined, [] { std::thread([] {}).join(); });
    std::_Exit(0);
  };
  EXPECT_EXIT(new_thread(), ::testing::KilledBySignal(SIGSYS), "");
  const auto blk_ring_reads = [] {  // blk's kick only wakes its I/O thread: the image is not the worker's
    const int image = scratch_file();
    const auto confined = confine_as(blk_with(image));
    on_ring_worker(confined, [&] {
      std::array<char, 8> bytes{};
      const iovec iov{bytes.data(), bytes.size()};
      (void)::preadv(image, &iov, 1, 0);
    });
    std::_Exit(0);
  };
  EXPECT_EXIT(blk_ring_reads(), ::testing::KilledBySignal(SIGSYS), "");
}

TEST_F(SandboxDeathTest, DebugModeNamesTheForbiddenCallOfARingWorker) {
  const auto receive = [] {
    std::array<int, 2> pair{};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()) != 0) std::_Exit(3);
    const auto confined = confine_as(kBlk, true);
    on_ring_worker(confined, [&] {
      msghdr message{};
      (void)::recvmsg(pair[0], &message, MSG_DONTWAIT);
    });
    std::_Exit(0);
  };
  EXPECT_EXIT(receive(), ::testing::ExitedWithCode(hvd::kForbiddenCallExit),
              "sandbox-test: sandbox: forbidden system call 47 \\(recvmsg\\)");
}

TEST_F(SandboxDeathTest, DebugModeNamesTheForbiddenCallAndExits) {
  const auto inet_socket = [] {
    confine_as(kBlk, true);
    (void)::socket(AF_INET, SOCK_STREAM, 0);
    std::_Exit(0);
  };
  EXPECT_EXIT(inet_socket(), ::testing::ExitedWithCode(hvd::kForbiddenCallExit),
              "sandbox-test: sandbox: forbidden system call 41 \\(socket\\)");
}

TEST_F(SandboxDeathTest, ChangingIdentityIsForbidden) {
  // Capabilities are gone too (sandbox_status_test.sh reads them in /proc/PID/status); the filter
  // does not even let the process try a set*id call.
  const auto become_root = [] {
    confine_as(kRng);
    (void)::setuid(0);
    std::_Exit(0);
  };
  EXPECT_EXIT(become_root(), ::testing::KilledBySignal(SIGSYS), "");
}

// glibc's allocator opens /proc/sys/vm/overcommit_memory when it first shrinks a thread's arena, at
// any moment of a daemon's life: the open fails (EACCES), on the control thread and on a ring worker,
// and the daemon lives on.
TEST_F(SandboxDeathTest, OpeningAPathFailsInsteadOfKilling) {
  if (hvd::kSanitizerBuild) GTEST_SKIP() << "sanitizer builds allow opening files (their runtime reads /proc)";
  const auto open_overcommit = [](bool on_ring) {
    const auto confined = confine_as(kRng);
    bool refused = false;
    const auto try_open = [&] {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic in C.
      const int fd = ::open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
      refused = fd < 0 && errno == EACCES;
    };
    if (on_ring) {
      on_ring_worker(confined, try_open);
    } else {
      try_open();
    }
    std::_Exit(refused ? 0 : 4);
  };
  EXPECT_EXIT(open_overcommit(false), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(open_overcommit(true), ::testing::ExitedWithCode(0), "");
}

TEST_F(SandboxDeathTest, LandlockLeavesNoPathToOpen) {
  if (hvd::landlock_abi() == 0) GTEST_SKIP() << "this kernel has no Landlock";
  const auto open_after = [] {
    if (!hvd::set_no_new_privs() || !hvd::restrict_filesystem({})) std::_Exit(3);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic in C.
    const int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    std::_Exit(fd < 0 && errno == EACCES ? 0 : 4);
  };
  EXPECT_EXIT(open_after(), ::testing::ExitedWithCode(0), "");
  const auto open_before = [] {  // a descriptor opened before keeps working
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic in C.
    const int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !hvd::set_no_new_privs() || !hvd::restrict_filesystem({})) std::_Exit(3);
    std::array<char, 4> bytes{};
    std::_Exit(::pread(fd, bytes.data(), bytes.size(), 0) > 0 ? 0 : 4);
  };
  EXPECT_EXIT(open_before(), ::testing::ExitedWithCode(0), "");
}

TEST_F(SandboxDeathTest, UserSwitchCannotBeUndone) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const auto become_nobody = [] {
    auto who = hvd::parse_user("65534:65534");
    if (!who || !hvd::switch_user(*who)) std::_Exit(3);
    const bool stuck = ::setuid(0) != 0 && ::setgid(0) != 0 && ::getuid() == 65534 && ::getgid() == 65534;
    std::_Exit(stuck ? 0 : 4);
  };
  EXPECT_EXIT(become_nobody(), ::testing::ExitedWithCode(0), "");
}

TEST(SandboxUser, NamesAndNumbers) {
  auto root = hvd::parse_user("root");
  ASSERT_TRUE(root) << root.error().to_string();
  EXPECT_EQ(root->uid, 0U);
  EXPECT_EQ(root->gid, 0U);
  auto numbers = hvd::parse_user("4242:4343");
  ASSERT_TRUE(numbers);
  EXPECT_EQ(numbers->uid, 4242U);
  EXPECT_EQ(numbers->gid, 4343U);
  EXPECT_FALSE(hvd::parse_user("no-such-user-hvkit"));
  EXPECT_FALSE(hvd::parse_user("0:no-such-group-hvkit"));
  EXPECT_FALSE(hvd::parse_user("4294967295"));  // (uid_t)-1: "unchanged" to setresuid
}

}  // namespace
