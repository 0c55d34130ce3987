// listen_unix, the daemons' --socket-path: a stale socket from an earlier run is replaced, but any
// other file at the path is refused and left alone (the daemon never deletes what is not its socket).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "hv/vhost/backend_daemon.hpp"

namespace {

class ListenUnix : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/hvkit-listen-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/sock";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(ListenUnix, ReplacesAStaleSocket) {
  {
    auto first = hv::vhost::listen_unix(path_);
    ASSERT_TRUE(first) << first.error().to_string();
  }  // closed: stale
  auto second = hv::vhost::listen_unix(path_);
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(hv::vhost::Channel::connect(path_));
}

TEST_F(ListenUnix, RefusesToReplaceAnythingElse) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "data", 4), 4);
  ::close(fd);
  auto r = hv::vhost::listen_unix(path_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::AlreadyExists) << r.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0) << "the file was removed";
  EXPECT_EQ(st.st_size, 4);
}

TEST_F(ListenUnix, RefusesAPathTooLongForSockaddr) {
  auto r = hv::vhost::listen_unix(dir_ + "/" + std::string(120, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
}

}  // namespace
