#include <chrono>

#include <gtest/gtest.h>

#include "hv/event_fd.hpp"

namespace {
using namespace std::chrono_literals;

TEST(EventFd, SignalThenConsumeReturnsTheSum) {
  auto e = hv::EventFd::create();
  ASSERT_TRUE(e) << e.error().to_string();
  ASSERT_TRUE(e->signal(2));
  ASSERT_TRUE(e->signal(3));
  auto waited = e->wait_for(0ms);
  ASSERT_TRUE(waited);
  EXPECT_TRUE(*waited);
  auto v = e->consume();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 5U);
}

TEST(EventFd, ConsumeOnZeroIsBusyAndWaitTimesOut) {
  auto e = hv::EventFd::create();
  ASSERT_TRUE(e);
  auto v = e->consume();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind(), hv::ErrorKind::Busy);
  auto waited = e->wait_for(10ms);
  ASSERT_TRUE(waited);
  EXPECT_FALSE(*waited);
}

TEST(EventFd, NegativeTimeoutIsRejected) {
  auto e = hv::EventFd::create();
  ASSERT_TRUE(e);
  auto waited = e->wait_for(-1ms);
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().kind(), hv::ErrorKind::InvalidArgument);
}

}  // namespace
