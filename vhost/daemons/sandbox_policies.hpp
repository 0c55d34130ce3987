#pragma once
// Each daemon's additions to base_syscalls() and ring_worker_syscalls() (docs/sandbox.md): what its
// device does with the files it opened at setup while serving, on the control thread (which also
// notifies the device when a ring starts) and on a ring worker (each kick). Calls that write to a
// file opened at setup are allowed on that file's descriptors only.

#include <string>
#include <vector>

#include "hv/error.hpp"
#include "sandbox_seccomp.hpp"

namespace hvd {

struct DevicePolicy {
  std::vector<SyscallRule> syscalls;       // the process's, beyond base_syscalls()
  std::vector<SyscallRule> ring_syscalls;  // a ring worker's, beyond ring_worker_syscalls()
};

// The descriptors this process holds open on the file at `path` (the same device and inode): the
// ones a device opened it as. NotFound if there are none.
hv::Result<std::vector<int>> descriptors_of(const std::string& path);

// hvkit-vhost-user-blk: the image's reads, writes, flushes, and discard/write-zeroes that never
// change its size, on `image_fds` only, all on the device's own I/O thread (a kick only wakes it).
DevicePolicy blk_policy(const std::vector<int>& image_fds);

// hvkit-vhost-user-rng: getrandom(2), wherever the device is notified.
DevicePolicy rng_policy();

// hvkit-vhost-user-i2c: the EEPROM files' write-backs (on `eeprom_fds` only) and the three I2C
// requests of the host buses (I2C_SLAVE, I2C_RDWR, I2C_SMBUS), no other ioctl, wherever the device
// is notified.
DevicePolicy i2c_policy(const std::vector<int>& eeprom_fds);

}  // namespace hvd
