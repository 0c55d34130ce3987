#include <gtest/gtest.h>

#include "hv/backend_registry.hpp"

// The registry is process-global; each test uses its own backend names.
namespace {

hv::BackendDescriptor unavailable_backend(std::string name, std::string reason) {
  return {.name = std::move(name),
          .probe =
              [reason] {
                return hv::BackendAvailability{false, reason};
              },
          .open = []() -> hv::Result<std::unique_ptr<hv::Hypervisor>> {
            return hv::fail(hv::ErrorKind::Internal, "open", "must not be called when unavailable");
          }};
}

TEST(BackendRegistry, RejectsIncompleteAndDuplicateDescriptors) {
  auto incomplete = hv::register_backend({.name = "incomplete", .probe = {}, .open = {}});
  ASSERT_FALSE(incomplete);
  EXPECT_EQ(incomplete.error().kind(), hv::ErrorKind::InvalidArgument);

  ASSERT_TRUE(hv::register_backend(unavailable_backend("dup-test", "x")));
  auto again = hv::register_backend(unavailable_backend("dup-test", "y"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), hv::ErrorKind::AlreadyExists);
}

TEST(BackendRegistry, ListsReasonAndRefusesToOpenUnavailable) {
  ASSERT_TRUE(hv::register_backend(unavailable_backend("no-device-test", "no /dev/nothing")));
  bool listed = false;
  for (const auto& b : hv::list_backends()) {
    if (b.name == "no-device-test") {
      listed = true;
      EXPECT_FALSE(b.availability.available);
      EXPECT_EQ(b.availability.reason, "no /dev/nothing");
    }
  }
  EXPECT_TRUE(listed);
  auto opened = hv::open_hypervisor("no-device-test");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), hv::ErrorKind::Unavailable);
  EXPECT_NE(opened.error().message().find("no /dev/nothing"), std::string::npos);
}

TEST(BackendRegistry, UnknownNameIsNotFoundAndListsKnownNames) {
  ASSERT_TRUE(hv::register_backend(unavailable_backend("known-test", "r")));
  auto opened = hv::open_hypervisor("no-such-backend");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), hv::ErrorKind::NotFound);
  EXPECT_NE(opened.error().message().find("known-test"), std::string::npos);
}

TEST(BackendRegistry, DefaultWithNothingAvailableReportsEveryReason) {
  // Only unavailable backends are registered in this test binary.
  ASSERT_TRUE(hv::register_backend(unavailable_backend("reason-test", "because")));
  auto opened = hv::open_default_hypervisor();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), hv::ErrorKind::Unavailable);
  EXPECT_NE(opened.error().message().find("reason-test: because"), std::string::npos);
}

}  // namespace
