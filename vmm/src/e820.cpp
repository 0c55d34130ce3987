#include "hv/vmm/e820.hpp"

#include "hv/vmm/linux_loader.hpp"

namespace hv::vmm {

std::vector<E820Entry> linux_memory_map(std::uint64_t ram_bytes) {
  return {
      {.address = 0, .size = kLinuxLowRamEnd, .type = E820Type::Ram},
      {.address = kLinuxLowRamEnd, .size = kLinuxKernelFloor - kLinuxLowRamEnd, .type = E820Type::Reserved},
      {.address = kLinuxKernelFloor, .size = ram_bytes - kLinuxKernelFloor, .type = E820Type::Ram},
  };
}

}  // namespace hv::vmm
