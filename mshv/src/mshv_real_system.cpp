// The real kernel behind MshvSystem: the only place the backend calls open/ioctl/close on /dev/mshv.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "hv/mshv/system.hpp"

namespace hv::mshv {

namespace {

class RealSystem final : public MshvSystem {
 public:
  explicit RealSystem(std::string path) : path_(std::move(path)) {}
  int open_device() noexcept override {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
  }
  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    // The kernel reads and writes `arg` as the struct the request number encodes (mshv_abi.hpp).
    const int r = ::ioctl(fd, request, arg);
    return r >= 0 ? r : -errno;
  }
  void close(int fd) noexcept override { ::close(fd); }
  [[nodiscard]] std::string describe() const override { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::shared_ptr<MshvSystem> real_system(std::string device_path) {
  return std::make_shared<RealSystem>(std::move(device_path));
}

}  // namespace hv::mshv
