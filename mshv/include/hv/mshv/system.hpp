#pragma once
// The one narrow interface through which the MSHV backend makes every system call on /dev/mshv and the
// partition and VP descriptors it hands out. The backend talks to the real kernel through
// real_system(), or to the in-process ABI simulator (hv/mshv/simulator.hpp) through the same calls
// with the same structs (mshv/abi/mshv_abi.hpp).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace hv::mshv {

// One page of a VP descriptor mapped shared into this process (the VP register page,
// docs/mshv-abi.md §10.1): the hypervisor's page itself, not a copy. Unmapped when destroyed.
class MappedPage {
 public:
  virtual ~MappedPage() = default;
  MappedPage() = default;
  MappedPage(const MappedPage&) = delete;
  MappedPage& operator=(const MappedPage&) = delete;
  // The page's 4096 bytes. The hypervisor owns them while the VP runs: read and write them only
  // between two RUN_VPs, on the thread that runs the VP.
  [[nodiscard]] virtual std::span<std::uint8_t> bytes() const noexcept = 0;
};

// A page, or the errno that refused it (ENODEV: the VP has no such page).
struct PageMapping {
  std::unique_ptr<MappedPage> page;
  int error = 0;
};

class MshvSystem {
 public:
  virtual ~MshvSystem() = default;
  // open("/dev/mshv", O_RDWR | O_CLOEXEC): a descriptor, or -errno.
  virtual int open_device() noexcept = 0;
  // ioctl(fd, request, arg): the kernel's non-negative result, or -errno.
  virtual long ioctl(int fd, std::uint32_t request, void* arg) noexcept = 0;
  virtual void close(int fd) noexcept = 0;
  // mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vp_fd, page_offset × the host page size) on
  // a VP descriptor, page_offset being an MSHV_VP_MMAP_OFFSET_* (Linux mshv_vp_mmap). The mapping
  // stays valid after the descriptor is closed, as an mmap does.
  virtual PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept = 0;
  // Where the descriptors come from, for messages ("/dev/mshv", "mshv-sim").
  [[nodiscard]] virtual std::string describe() const = 0;
};

// The host kernel's /dev/mshv (or another path, for tests).
std::shared_ptr<MshvSystem> real_system(std::string device_path = "/dev/mshv");

}  // namespace hv::mshv
