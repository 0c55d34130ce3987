// The daemons' sandbox (vhost/daemons/sandbox.hpp) applied in a child process: each daemon's policy lets
// through what it serves with and kills the process on anything else; --sandbox-debug names the call;
// Landlock closes the file system; --user cannot be undone. Death tests: each confines a forked child.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "sandbox.hpp"
#include "sandbox_landlock.hpp"
#include "sandbox_policies.hpp"
#include "sandbox_privileges.hpp"
#include "sandbox_sanitizer.hpp"

namespace {

using hvd::SandboxNeeds;
using hvd::SandboxOptions;

// Confines this (child) process as the daemon `needs` describes, or exits 3 saying why.
void confine_as(const SandboxNeeds& needs, bool debug = false) {
  SandboxOptions options;
  options.debug = debug;
  auto confined = hvd::confine(options, needs, "sandbox-test");
  if (!confined) {
    (void)std::fprintf(stderr, "confine: %s\n", confined.error().to_string().c_str());
    std::_Exit(3);
  }
}

const SandboxNeeds kBlk{hvd::blk_syscalls(), 1};
const SandboxNeeds kRng{hvd::rng_syscalls(), 1};
const SandboxNeeds kI2c{hvd::i2c_syscalls(), 1};

class SandboxDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SandboxDeathTest, EachDaemonServesWithWhatItsPolicyAllows) {
  const auto serve_blk = [] {
    confine_as(kBlk);
    std::array<char, 8> bytes{};
    const int fd = STDERR_FILENO;
    const iovec iov{bytes.data(), bytes.size()};
    (void)::preadv(fd, &iov, 1, 0);  // any result: the call is allowed
    (void)::pwritev(fd, &iov, 1, 0);
    (void)::pwrite(fd, bytes.data(), 0, 0);
    (void)::fdatasync(fd);
    (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1);
    std::_Exit(0);
  };
  EXPECT_EXIT(serve_blk(), ::testing::ExitedWithCode(0), "");
  // The data path is preadv/pwritev: plain pread is no longer part of the blk daemon's policy.
  const auto blk_pread = [] {
    confine_as(kBlk);
    std::array<char, 8> bytes{};
    (void)::pread(STDERR_FILENO, bytes.data(), bytes.size(), 0);
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
    confine_as(kBlk);
    (void)::fallocate(STDERR_FILENO, 0, 0, 4096);
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
