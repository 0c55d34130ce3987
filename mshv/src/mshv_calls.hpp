#pragma once
// How the backend issues MSHV calls: a descriptor owned together with the MshvSystem it came from,
// ioctls that retry EINTR and become hv::Errors, and hypercalls through MSHV_ROOT_HVCALL whose
// hypervisor status becomes the error. Only mshv/src includes this.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "hv/error.hpp"
#include "hv/mshv/system.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv::detail {

class MshvFd {
 public:
  MshvFd() = default;
  MshvFd(std::shared_ptr<MshvSystem> system, int fd) noexcept : system_(std::move(system)), fd_(fd) {}
  MshvFd(MshvFd&& other) noexcept : system_(std::move(other.system_)), fd_(std::exchange(other.fd_, -1)) {}
  MshvFd& operator=(MshvFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0 && system_) system_->close(fd_);
      system_ = std::move(other.system_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  MshvFd(const MshvFd&) = delete;
  MshvFd& operator=(const MshvFd&) = delete;
  ~MshvFd() {
    if (fd_ >= 0 && system_) system_->close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] MshvSystem& system() const noexcept { return *system_; }
  [[nodiscard]] const std::shared_ptr<MshvSystem>& shared_system() const noexcept { return system_; }

  // ioctl with EINTR retried; -errno becomes an hv::Error naming `operation`.
  Result<long> call(std::uint32_t request, void* arg, const char* operation) const;
  // RUN_VP only: EINTR is returned to the caller (it means "kicked"), as 0 with interrupted = true.
  Result<long> call_once(std::uint32_t request, void* arg, const char* operation, bool& interrupted) const;

 private:
  std::shared_ptr<MshvSystem> system_;
  int fd_ = -1;
};

// A buffer as the ABI's __u64 address fields carry it (RootHvcall::in_ptr/out_ptr,
// UserMemRegion::userspace_addr, GpapAccessBitmap::bitmap_ptr): the kernel (or the simulator) copies
// through this address.
static_assert(sizeof(std::uintptr_t) == sizeof(std::uint64_t), "an address field holds any pointer");
inline std::uint64_t user_address(const void* buffer) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): pointer to integer for a __u64 address field
  return reinterpret_cast<std::uintptr_t>(buffer);
}

// MSHV_ROOT_HVCALL: `input` and `output` are the hypercall's pages. Returns the reps completed; a
// non-success HV status is ErrorKind::HypervisorError carrying that status.
Result<std::uint16_t> hypercall(const MshvFd& fd, std::uint16_t code, std::uint16_t reps, std::span<std::uint8_t> input,
                                std::span<std::uint8_t> output, const char* operation);

}  // namespace hv::mshv::detail
