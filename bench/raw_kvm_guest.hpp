#pragma once
// The baseline: a real-mode guest driven by bare KVM ioctls, as a VMM without hvkit would write it.

#include <cstdint>
#include <span>
#include <string>

struct kvm_run;

namespace hvbench {

class RawKvmGuest {
 public:
  // Loads `code` at 0x1000 in 32 KiB of RAM at guest-physical 0; on failure, error() says why.
  explicit RawKvmGuest(std::span<const std::uint8_t> code);
  ~RawKvmGuest();
  RawKvmGuest(const RawKvmGuest&) = delete;
  RawKvmGuest& operator=(const RawKvmGuest&) = delete;

  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  // One KVM_RUN; returns the exit reason, or -1 on failure.
  int run() noexcept;

 private:
  int kvm_ = -1, vm_ = -1, vcpu_ = -1;
  void* memory_ = nullptr;
  kvm_run* run_ = nullptr;
  std::size_t run_size_ = 0;
  std::string error_;
};

}  // namespace hvbench
