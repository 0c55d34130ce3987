#include "sandbox_policies.hpp"

#include <fcntl.h>
#include <linux/falloc.h>

namespace hvd {

std::vector<SyscallRule> blk_syscalls() {
  return {
      {"preadv", {}},    // IN data, straight into guest memory
      {"pwritev", {}},   // OUT data, straight from guest memory
      {"pwrite64", {}},  // WRITE_ZEROES where fallocate cannot zero
      {"fdatasync", {}},
      {"fallocate", {{1, FALLOC_FL_KEEP_SIZE, FALLOC_FL_KEEP_SIZE}}},  // punch holes, zero ranges: never grow
  };
}

std::vector<SyscallRule> rng_syscalls() { return {{"getrandom", {}}}; }

// <linux/i2c-dev.h>'s request numbers: plain numbers, not _IO() encodings (devices/src/linux_i2c_dev.cpp,
// the only file that may include that header, asserts these values).
constexpr std::uint64_t kI2cSlave = 0x0703, kI2cRdwr = 0x0707, kI2cSmbus = 0x0720;

std::vector<SyscallRule> i2c_syscalls() {
  constexpr std::uint64_t kRequest = 0xffffffff;  // the kernel takes the request as an unsigned int
  return {
      {"pread64", {}},
      {"pwrite64", {}},
      {"ioctl", {{1, kRequest, kI2cSlave}}},
      {"ioctl", {{1, kRequest, kI2cRdwr}}},
      {"ioctl", {{1, kRequest, kI2cSmbus}}},
  };
}

}  // namespace hvd
