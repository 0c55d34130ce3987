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
  std::memcpy(data.data(), bytes_.data() + offset, data.size());
}

void ScratchDevice::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (!inside(offset, data.size())) return;
  std::memcpy(bytes_.data() + offset, data.data(), data.size());
}

}  // namespace hv::dev
