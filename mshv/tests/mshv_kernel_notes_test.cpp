// The kernel-release predicate behind hvctl info's /dev/mshv warning (hv/mshv/kernel_notes.hpp).
#include <gtest/gtest.h>

#include "hv/mshv/kernel_notes.hpp"

namespace {

using hv::mshv::kernel_hazard;

TEST(MshvKernelNotes, Linux619BeforeTheFixAndEarly70CandidatesAreFlagged) {
  for (const char* release : {"6.19", "6.19.0", "6.19.1", "6.19.13", "6.19.13-200.fc43.x86_64", "6.19-rc4",
                              "6.19.0-rc1+", "7.0.0-rc1", "7.0-rc7", "7.0.0-rc7-00012-gabcdef"}) {
    auto note = kernel_hazard(release);
    ASSERT_TRUE(note) << release;
    EXPECT_NE(note->find(release), std::string::npos) << *note;
    EXPECT_NE(note->find("16cbec248976"), std::string::npos) << *note;
  }
}

TEST(MshvKernelNotes, FixedAndUnaffectedKernelsAreNot) {
  for (const char* release : {"6.19.14", "6.19.20-1-default", "7.0-rc8", "7.0.0-rc8", "7.0", "7.0.1", "7.1.0", "6.18.9",
                              "6.15.0", "6.1.0-28-amd64", "5.19.17", "16.19.0", "6.190.0"}) {
    EXPECT_FALSE(kernel_hazard(release)) << release;
  }
}

TEST(MshvKernelNotes, UnparsableReleasesAreNotFlagged) {
  for (const char* release : {"", "6", "6.", ".19", "abc", "6.x.1", "6.19.x"}) {
    EXPECT_FALSE(kernel_hazard(release)) << '"' << release << '"';
  }
}

}  // namespace
