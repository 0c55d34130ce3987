#include <gtest/gtest.h>

#include "hv/conformance/suite.hpp"

namespace {
using hv::conformance::glob_match;

TEST(Glob, MatchesStarsAndQuestionMarks) {
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("pio_*", "pio_in_byte"));
  EXPECT_TRUE(glob_match("*_byte", "mmio_read_byte"));
  EXPECT_TRUE(glob_match("mmio_*_q?ord*", "mmio_read_qword"));
  EXPECT_FALSE(glob_match("pio_*", "mmio_read_byte"));
  EXPECT_FALSE(glob_match("pio_in_byte", "pio_in_bytes"));
  EXPECT_FALSE(glob_match("?", ""));
}

TEST(Glob, PathologicalPatternStaysFast) {
  const std::string text(2000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*b", text));  // no exponential backtracking
}

}  // namespace
