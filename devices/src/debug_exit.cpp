#include "hv/dev/debug_exit.hpp"

#include <algorithm>

namespace hv::dev {

void DebugExit::read(std::uint64_t, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0xff});
}

void DebugExit::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  // Only a write at the port itself counts; the value is the access, little-endian.
  if (offset != 0 || data.empty() || data.size() > 4 || !on_exit_) return;
  std::uint32_t status = 0;
  for (std::size_t i = 0; i < data.size(); ++i) status |= std::uint32_t{data[i]} << (8 * i);
  on_exit_(status);
}

}  // namespace hv::dev
