#pragma once
// The one narrow interface through which the MSHV backend makes every system call on /dev/mshv and the
// partition and VP descriptors it hands out. The backend talks to the real kernel through
// real_system(), or to the in-process ABI simulator (hv/mshv/simulator.hpp) through the same calls
// with the same structs (mshv/abi/mshv_abi.hpp).

#include <cstdint>
#include <memory>
#include <string>

namespace hv::mshv {

class MshvSystem {
 public:
  virtual ~MshvSystem() = default;
  // open("/dev/mshv", O_RDWR | O_CLOEXEC): a descriptor, or -errno.
  virtual int open_device() noexcept = 0;
  // ioctl(fd, request, arg): the kernel's non-negative result, or -errno.
  virtual long ioctl(int fd, std::uint32_t request, void* arg) noexcept = 0;
  virtual void close(int fd) noexcept = 0;
  // Where the descriptors come from, for messages ("/dev/mshv", "mshv-sim").
  [[nodiscard]] virtual std::string describe() const = 0;
};

// The host kernel's /dev/mshv (or another path, for tests).
std::shared_ptr<MshvSystem> real_system(std::string device_path = "/dev/mshv");

}  // namespace hv::mshv
