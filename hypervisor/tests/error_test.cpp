#include <cerrno>

#include <gtest/gtest.h>

#include "hv/error.hpp"

namespace {

TEST(Error, ClassifiesErrnoAndKeepsIt) {
  struct Case {
    int err;
    hv::ErrorKind kind;
  };
  const Case cases[] = {
      {EINVAL, hv::ErrorKind::SystemError},  // the kernel refused hvkit's call: not the VMM's argument
      {EFAULT, hv::ErrorKind::SystemError},      {EBADF, hv::ErrorKind::SystemError},
      {EEXIST, hv::ErrorKind::AlreadyExists},    {ENOENT, hv::ErrorKind::Unavailable},
      {EACCES, hv::ErrorKind::PermissionDenied}, {ENOMEM, hv::ErrorKind::ResourceExhausted},
      {ENOTTY, hv::ErrorKind::Unsupported},      {EAGAIN, hv::ErrorKind::Busy},
      {EIO, hv::ErrorKind::SystemError},
  };
  for (const auto& c : cases) {
    const auto e = hv::Error::from_errno("KVM_RUN", c.err, "vcpu 0");
    EXPECT_EQ(e.kind(), c.kind) << c.err;
    EXPECT_EQ(e.sys_errno(), c.err);
    EXPECT_EQ(e.operation(), "KVM_RUN");
    EXPECT_FALSE(e.hypervisor_status().has_value());
  }
}

TEST(Error, ToStringNamesOperationMessageKindAndErrno) {
  const auto s = hv::Error::from_errno("open", EACCES, "/dev/kvm").to_string();
  EXPECT_NE(s.find("open: /dev/kvm"), std::string::npos) << s;
  EXPECT_NE(s.find("permission-denied"), std::string::npos) << s;
  EXPECT_NE(s.find("errno 13"), std::string::npos) << s;
}

TEST(Error, ProtocolViolationIsItsOwnKind) {
  const hv::Error e(hv::ErrorKind::ProtocolViolation, "virtio::SplitQueue", "descriptor chain loops");
  EXPECT_NE(e.kind(), hv::ErrorKind::InvalidArgument);
  EXPECT_EQ(hv::to_string(e.kind()), "protocol-violation");
  EXPECT_EQ(e.to_string(), "virtio::SplitQueue: descriptor chain loops (protocol-violation)");
}

TEST(Error, HypervisorStatusIsCarried) {
  const auto e = hv::Error::from_hypervisor_status("HVCALL_SET_VP_REGISTERS", 0x5, "vp 1");
  EXPECT_EQ(e.kind(), hv::ErrorKind::HypervisorError);
  ASSERT_TRUE(e.hypervisor_status().has_value());
  EXPECT_EQ(*e.hypervisor_status(), 0x5U);
  EXPECT_NE(e.to_string().find("hypervisor status 5"), std::string::npos);
}

TEST(Error, FailBuildsAnUnexpected) {
  hv::Result<int> r = hv::fail(hv::ErrorKind::NotFound, "op", "msg");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::NotFound);
  EXPECT_EQ(r.error().message(), "msg");
}

}  // namespace
