#pragma once
// Each daemon's additions to base_syscalls() (docs/sandbox.md): what its device does with the files it
// opened at setup while serving.

#include <vector>

#include "sandbox_seccomp.hpp"

namespace hvd {

// hvkit-vhost-user-blk: the image's reads, writes, flushes, and discard/write-zeroes that never
// change its size.
std::vector<SyscallRule> blk_syscalls();

// hvkit-vhost-user-rng: getrandom(2).
std::vector<SyscallRule> rng_syscalls();

// hvkit-vhost-user-i2c: the EEPROM files' reads and write-backs, and the three I2C requests of the
// host buses (I2C_SLAVE, I2C_RDWR, I2C_SMBUS), no other ioctl.
std::vector<SyscallRule> i2c_syscalls();

}  // namespace hvd
