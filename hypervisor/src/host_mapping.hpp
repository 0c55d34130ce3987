#pragma once
// The only place in hypervisor/ that calls mmap/munmap/memfd_create: host memory for guest RAM.

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
void unmap_host_memory(std::uint8_t* address, std::uint64_t size) noexcept;

}  // namespace hv::detail
