// The real kernel behind MshvSystem: the only place the backend calls open/ioctl/close/mmap on /dev/mshv
// and its descriptors.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "hv/mshv/system.hpp"

namespace hv::mshv {

namespace {

constexpr std::size_t kVpPageSize = 4096;  // HV_HYP_PAGE_SIZE: what rust-vmm mshv-ioctls maps too

// A page of a VP descriptor mmap()ed MAP_SHARED: the kernel's mshv_vp_fault hands out the VP's own
// register page (Linux drivers/hv/mshv_root_main.c), so loads and stores reach the hypervisor's page.
// Sound because the mapping is owned here alone (no copy, munmap once in the destructor), is never
// resized, and outlives the VP descriptor as any mmap does (the kernel frees the page only with the
// partition, after every mapping of it is gone). The bytes may change under us only while the VP runs
// (MappedPage's contract: the backend touches them between RUN_VPs on the VP's thread).
class MmapPage final : public MappedPage {
 public:
  explicit MmapPage(void* address) noexcept : address_(address) {}
  ~MmapPage() override { ::munmap(address_, kVpPageSize); }
  MmapPage(const MmapPage&) = delete;
  MmapPage& operator=(const MmapPage&) = delete;
  [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept override {
    return {static_cast<std::uint8_t*>(address_), kVpPageSize};
  }

 private:
  void* address_;
};

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
  PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override {
    const long host_page = ::sysconf(_SC_PAGESIZE);
    if (host_page <= 0) return {nullptr, EINVAL};
    const auto offset = static_cast<off_t>(page_offset * static_cast<std::uint64_t>(host_page));
    void* address = ::mmap(nullptr, kVpPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, vp_fd, offset);
    if (address == MAP_FAILED) return {nullptr, errno};
    std::unique_ptr<MappedPage> page(new (std::nothrow) MmapPage(address));
    if (!page) {
      ::munmap(address, kVpPageSize);
      return {nullptr, ENOMEM};
    }
    return {std::move(page), 0};
  }
  [[nodiscard]] std::string describe() const override { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::shared_ptr<MshvSystem> real_system(std::string device_path) {
  return std::make_shared<RealSystem>(std::move(device_path));
}

}  // namespace hv::mshv
