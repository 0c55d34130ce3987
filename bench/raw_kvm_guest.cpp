#include "raw_kvm_guest.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace hvbench {

namespace {
constexpr std::size_t kRamSize = 0x8000;  // same as the hvkit guest: 0x9000 is MMIO in both
}

RawKvmGuest::RawKvmGuest(std::span<const std::uint8_t> code) {
  auto failed = [this](const char* what) { error_ = std::string(what) + ": " + std::strerror(errno); };
  if ((kvm_ = ::open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) {
    failed("open /dev/kvm");
    return;
  }
  if ((vm_ = ::ioctl(kvm_, KVM_CREATE_VM, 0)) < 0) {
    failed("KVM_CREATE_VM");
    return;
  }
  if (::ioctl(vm_, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
    failed("KVM_SET_TSS_ADDR");
    return;
  }
  memory_ = ::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory_ == MAP_FAILED) {
    memory_ = nullptr;
    failed("mmap");
    return;
  }
  std::memcpy(static_cast<std::uint8_t*>(memory_) + 0x1000, code.data(), code.size());
  kvm_userspace_memory_region region{.slot = 0,
                                     .flags = 0,
                                     .guest_phys_addr = 0,
                                     .memory_size = kRamSize,
                                     .userspace_addr = reinterpret_cast<std::uintptr_t>(memory_)};
  if (::ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    failed("KVM_SET_USER_MEMORY_REGION");
    return;
  }
  if ((vcpu_ = ::ioctl(vm_, KVM_CREATE_VCPU, 0)) < 0) {
    failed("KVM_CREATE_VCPU");
    return;
  }
  const int size = ::ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) {
    failed("KVM_GET_VCPU_MMAP_SIZE");
    return;
  }
  run_size_ = static_cast<std::size_t>(size);
  void* run = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0);
  if (run == MAP_FAILED) {
    failed("mmap kvm_run");
    return;
  }
  run_ = static_cast<kvm_run*>(run);
  kvm_sregs sregs{};
  if (::ioctl(vcpu_, KVM_GET_SREGS, &sregs) < 0) {
    failed("KVM_GET_SREGS");
    return;
  }
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  sregs.ds.base = 0;
  sregs.ds.selector = 0;
  if (::ioctl(vcpu_, KVM_SET_SREGS, &sregs) < 0) {
    failed("KVM_SET_SREGS");
    return;
  }
  kvm_regs regs{};
  regs.rip = 0x1000;
  regs.rflags = 2;
  if (::ioctl(vcpu_, KVM_SET_REGS, &regs) < 0) {
    failed("KVM_SET_REGS");
    return;
  }
}

RawKvmGuest::~RawKvmGuest() {
  if (run_ != nullptr) ::munmap(run_, run_size_);
  if (memory_ != nullptr) ::munmap(memory_, kRamSize);
  for (int fd : {vcpu_, vm_, kvm_}) {
    if (fd >= 0) ::close(fd);
  }
}

int RawKvmGuest::run() noexcept {
  if (::ioctl(vcpu_, KVM_RUN, 0) < 0) return -1;
  return static_cast<int>(run_->exit_reason);
}

}  // namespace hvbench
