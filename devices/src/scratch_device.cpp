#include "hv/dev/scratch_device.hpp"

#include <algorithm>
#include <cstring>

namespace hv::dev {

void ScratchDevice::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (!inside(offset, data.size())) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    return;
  }
  std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
}

void ScratchDevice::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (!inside(offset, data.size())) return;
  std::copy_n(data.begin(), data.size(), bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace hv::dev
