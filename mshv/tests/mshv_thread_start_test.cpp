// create_vcpu on MSHV starts a thread (the kick resender). When the host cannot start one, the call
// must return an error, not throw std::system_error through the API, and must leave the vCPU id free.
// This binary interposes pthread_create (std::thread's way to the kernel) to fail with EAGAIN, as it
// does under RLIMIT_NPROC or the kernel's thread limit, while `refuse_threads` is set.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <memory>

#include <gtest/gtest.h>

#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"

namespace {
std::atomic<bool> refuse_threads{false};
}  // namespace

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  if (refuse_threads.load()) return EAGAIN;
  using Create = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto real = reinterpret_cast<Create>(::dlsym(RTLD_NEXT, "pthread_create"));
  return real(thread, attr, start, arg);
}

namespace {

TEST(MshvThreadStart, CreateVcpuReportsAThreadThatCannotStartAndKeepsTheIdFree) {
  auto system = hv::mshv::make_simulator();
  if (!system) GTEST_SKIP() << system.error().to_string();
  auto hypervisor = hv::mshv::open(*system, "mshv-sim");
  ASSERT_TRUE(hypervisor) << hypervisor.error().to_string();
  auto vm = (*hypervisor)->create_vm();
  ASSERT_TRUE(vm) << vm.error().to_string();

  refuse_threads = true;
  auto refused = (*vm)->create_vcpu(0);  // without the fix: std::system_error escapes here
  refuse_threads = false;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), hv::ErrorKind::ResourceExhausted) << refused.error().to_string();
  EXPECT_NE(refused.error().operation().find("kick resender"), std::string_view::npos) << refused.error().to_string();

  auto vcpu = (*vm)->create_vcpu(0);  // the failure cost no VP: the same id works now
  ASSERT_TRUE(vcpu) << vcpu.error().to_string();
  (*vcpu)->kick();
}

}  // namespace
