#include "hv/hypervisor.hpp"

namespace hv {

std::vector<std::uint64_t> DirtyBitmap::dirty_addresses() const {
  std::vector<std::uint64_t> out;
  for (std::uint64_t page = 0; page < pages; ++page) {
    if (is_dirty(page)) out.push_back(guest_base + page * kPageSize);
  }
  return out;
}

}  // namespace hv
