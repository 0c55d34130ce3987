#pragma once
// The only place in hypervisor/ that calls mmap/munmap/memfd_create: host memory for guest RAM, ours
// or another process's (a vhost-user frontend's, received as a descriptor).

#include <cstdint>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/unique_fd.hpp"

namespace hv::detail {

struct HostMapping {
  std::uint8_t* address = nullptr;
  UniqueFd memfd;  // invalid for anonymous memory
};

// Zero-filled, readable and writable, page-aligned host memory of `size` bytes.
Result<HostMapping> map_host_memory(std::uint64_t size, Backing backing);
// [offset, offset + size) of `fd` mapped MAP_SHARED, readable and writable. The descriptor comes from
// another process: it must be a regular file (memfd, tmpfs, hugetlbfs) at least offset + size bytes
// long. The caller checked alignment (offset and size page-aligned) and that offset + size does not wrap.
Result<std::uint8_t*> map_shared_fd(int fd, std::uint64_t offset, std::uint64_t size);
void unmap_host_memory(std::uint8_t* address, std::uint64_t size) noexcept;

}  // namespace hv::detail
