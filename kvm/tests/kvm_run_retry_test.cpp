// KVM_RUN failing with EAGAIN: a few in a row are retried, without end they are an error. The
// failures come through KvmVcpu's KVM_RUN seam (replace_kvm_run_for_testing); the rest is a real vCPU.
#include <atomic>
#include <cerrno>

#include "kvm_test_support.hpp"
#include "kvm_vcpu.hpp"

namespace {

using hvtest::KvmVmTest;

std::atomic<int> g_calls{0};
std::atomic<int> g_eagains{0};  // how many calls fail with EAGAIN before KVM_RUN really runs

int eagain_then_run(int vcpu_fd) noexcept {
  if (g_calls.fetch_add(1) < g_eagains.load()) {
    errno = EAGAIN;
    return -1;
  }
  return hv::kvm::detail::enter_kvm_run(vcpu_fd);
}

hv::kvm::detail::KvmVcpu& kvm_vcpu(hv::Vcpu& vcpu) {
  auto* kvm = dynamic_cast<hv::kvm::detail::KvmVcpu*>(&vcpu);
  EXPECT_NE(kvm, nullptr);
  return *kvm;
}

// A KVM_RUN that keeps answering EAGAIN must not spin the VMM: after 16 retries, run() returns the
// error. (Should the bound go, the seam lets KVM_RUN run after 1000 calls: run() then succeeds and
// the call count shows it.)
TEST_F(KvmVmTest, KvmRunFailingWithEagainIsAnErrorAfter16Retries) {
  load({0xF4});  // hlt
  g_calls = 0;
  g_eagains = 1000;
  kvm_vcpu(*vcpu).replace_kvm_run_for_testing(eagain_then_run);
  auto exit = vcpu->run(io);
  EXPECT_EQ(g_calls.load(), 17) << "one call and 16 retries";
  ASSERT_FALSE(exit) << "run() returned " << hv::exit_name(*exit);
  EXPECT_EQ(exit.error().sys_errno(), EAGAIN) << exit.error().to_string();
  EXPECT_EQ(exit.error().operation(), "KVM_RUN");
}

// Transient EAGAINs (up to 16 in a row) are retried: run() returns the guest's exit.
TEST_F(KvmVmTest, UpTo16EagainsInARowAreRetried) {
  load({0xF4});  // hlt
  g_calls = 0;
  g_eagains = 16;
  kvm_vcpu(*vcpu).replace_kvm_run_for_testing(eagain_then_run);
  auto exit = vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  EXPECT_EQ(g_calls.load(), 17);
}

}  // namespace
