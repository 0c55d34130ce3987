#include "sandbox_policies.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace hvd {

hv::Result<std::vector<int>> descriptors_of(const std::string& path) {
  constexpr const char* op = "sandbox: descriptors";
  struct stat file {};
  if (::stat(path.c_str(), &file) != 0) return hv::fail_errno(op, errno, path);
  const auto close_dir = [](DIR* d) { ::closedir(d); };
  const std::unique_ptr<DIR, decltype(close_dir)> dir(::opendir("/proc/self/fd"), close_dir);
  if (!dir) return hv::fail_errno(op, errno, "/proc/self/fd");
  std::vector<int> fds;
  while (const dirent* entry = ::readdir(dir.get())) {
    const char* name = &entry->d_name[0];
    if (*name < '0' || *name > '9') continue;  // "." and ".."
    const int fd = static_cast<int>(std::strtol(name, nullptr, 10));
    struct stat open {};
    if (fd == ::dirfd(dir.get()) || ::fstat(fd, &open) != 0) continue;
    if (open.st_dev == file.st_dev && open.st_ino == file.st_ino) fds.push_back(fd);
  }
  if (fds.empty()) return hv::fail(hv::ErrorKind::NotFound, op, path + " is not open in this process");
  return fds;
}

namespace {

// One rule for `name` per descriptor in `fds`, each with `more` conditions on the other arguments.
void on_each(std::vector<SyscallRule>& rules, const char* name, const std::vector<int>& fds,
             const std::vector<ArgCondition>& more = {}) {
  for (const int fd : fds) {
    SyscallRule rule{name, {arg_equals(0, static_cast<std::uint64_t>(fd))}};
    rule.when.insert(rule.when.end(), more.begin(), more.end());
    rules.push_back(std::move(rule));
  }
}

}  // namespace

DevicePolicy blk_policy(const std::vector<int>& image_fds) {
  DevicePolicy policy;
  on_each(policy.syscalls, "preadv", image_fds);     // IN data, straight into guest memory
  on_each(policy.syscalls, "pwritev", image_fds);    // OUT data, straight from guest memory
  on_each(policy.syscalls, "pwrite64", image_fds);   // WRITE_ZEROES where fallocate cannot zero
  on_each(policy.syscalls, "fdatasync", image_fds);  // FLUSH, and writes without a write cache
  // Punch holes, zero ranges: never grow.
  on_each(policy.syscalls, "fallocate", image_fds, {{1, FALLOC_FL_KEEP_SIZE, FALLOC_FL_KEEP_SIZE}});
  // A kick only wakes the device's I/O thread (a condition variable: futex, already a ring worker's).
  return policy;
}

DevicePolicy rng_policy() { return {{{"getrandom", {}}}, {{"getrandom", {}}}}; }

// <linux/i2c-dev.h>'s request numbers: plain numbers, not _IO() encodings (devices/src/linux_i2c_dev.cpp,
// the only file that may include that header, asserts these values).
constexpr std::uint64_t kI2cSlave = 0x0703, kI2cRdwr = 0x0707, kI2cSmbus = 0x0720;

DevicePolicy i2c_policy(const std::vector<int>& eeprom_fds) {
  constexpr std::uint64_t kRequest = 0xffffffff;  // the kernel takes the request as an unsigned int
  std::vector<SyscallRule> rules = {
      {"ioctl", {{1, kRequest, kI2cSlave}}},
      {"ioctl", {{1, kRequest, kI2cRdwr}}},
      {"ioctl", {{1, kRequest, kI2cSmbus}}},
  };
  on_each(rules, "pwrite64", eeprom_fds);  // write-back (the contents were read at setup)
  return {rules, rules};
}

}  // namespace hvd
