// How many heap allocations hv::Error and hv::Result cost, counted on the test's thread by the
// replacement operator new this binary links (hvkit_counting_allocator).
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "counting_allocator.hpp"
#include "hv/error.hpp"

namespace {

// Counts the allocations `body` makes on this thread.
template <class F>
int allocations_in(F&& body) {
  return static_cast<int>(hvtest::allocations_in(hvtest::CountOn::ThisThread, std::forward<F>(body)));
}

// Out of line, so the Results really are returned (and moved) rather than folded into the caller.
[[gnu::noinline]] hv::Result<void> succeed_void() { return {}; }
[[gnu::noinline]] hv::Result<std::uint64_t> succeed_u64(std::uint64_t value) { return value; }
[[gnu::noinline]] hv::Result<void> fail_void(std::string_view operation, std::string_view message) {
  return hv::fail(hv::ErrorKind::Internal, operation, message);
}
[[gnu::noinline]] hv::Result<std::uint64_t> fail_u64(std::string_view operation, std::string_view message) {
  return hv::fail_errno(operation, EIO, message);
}
[[gnu::noinline]] hv::Result<std::uint64_t> pass_on(hv::Result<std::uint64_t> r) { return r; }

const std::string kLongOperation(300, 'o');  // far beyond any small-string buffer
const std::string kLongMessage(500, 'm');

TEST(ErrorAllocations, TheCounterSeesAllocations) {
  // Without this the zero checks below could pass on a counter that never counts.
  EXPECT_EQ(allocations_in([] { const std::string s(kLongMessage); }), 1);
}

TEST(ErrorAllocations, SuccessAllocatesNothing) {
  EXPECT_EQ(allocations_in([] {
              hv::Result<void> r = succeed_void();
              hv::Result<void> moved = std::move(r);
              hv::Result<void> assigned;
              assigned = std::move(moved);
              ASSERT_TRUE(assigned.has_value());
            }),
            0);
  EXPECT_EQ(allocations_in([] {
              hv::Result<std::uint64_t> r = pass_on(succeed_u64(42));
              hv::Result<std::uint64_t> moved = std::move(r);
              hv::Result<std::uint64_t> copied = moved;
              ASSERT_TRUE(copied.has_value());
              EXPECT_EQ(*copied, 42U);
            }),
            0);
}

TEST(ErrorAllocations, FailureAllocatesOnce) {
  EXPECT_EQ(allocations_in([] {
              hv::Result<void> r = fail_void(kLongOperation, kLongMessage);
              hv::Result<void> moved = std::move(r);
              ASSERT_FALSE(moved.has_value());
              EXPECT_EQ(moved.error().kind(), hv::ErrorKind::Internal);
              EXPECT_EQ(moved.error().operation(), kLongOperation);
              EXPECT_EQ(moved.error().message(), kLongMessage);
            }),
            1);
  EXPECT_EQ(allocations_in([] {
              hv::Result<std::uint64_t> r = pass_on(fail_u64(kLongOperation, kLongMessage));
              ASSERT_FALSE(r.has_value());
              EXPECT_EQ(r.error().sys_errno(), EIO);
              EXPECT_EQ(r.error().operation(), kLongOperation);
              EXPECT_EQ(r.error().message(), kLongMessage);
            }),
            1);
  EXPECT_EQ(allocations_in([] {
              const auto e = hv::Error::from_hypervisor_status(kLongOperation, 0x11, kLongMessage);
              EXPECT_EQ(e.hypervisor_status(), std::optional<std::uint64_t>(0x11));
              EXPECT_EQ(e.message(), kLongMessage);
            }),
            1);
}

TEST(ErrorAllocations, AnErrorWithoutTextAllocatesNothing) {
  EXPECT_EQ(allocations_in([] {
              const hv::Error e = hv::Error::from_errno({}, EIO);
              EXPECT_EQ(e.sys_errno(), EIO);
              EXPECT_TRUE(e.operation().empty());
            }),
            0);
}

TEST(ErrorAllocations, CopyingAnErrorAllocatesOnce) {
  const hv::Error original(hv::ErrorKind::NotFound, kLongOperation, kLongMessage);
  hv::Error copy(hv::ErrorKind::Busy, "", "");
  EXPECT_EQ(allocations_in([&] { copy = original; }), 1);
  EXPECT_EQ(copy.kind(), hv::ErrorKind::NotFound);
  EXPECT_EQ(copy.operation(), kLongOperation);
  EXPECT_EQ(copy.message(), kLongMessage);
  EXPECT_EQ(original.message(), kLongMessage) << "the original is untouched";
}

}  // namespace
