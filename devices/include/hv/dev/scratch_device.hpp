#pragma once
// A test device in the spirit of QEMU's pc-testdev: a window whose reads return what was last written,
// at any width and alignment. `hvctl run --testdev` puts a 4 KiB one at guest-physical 0xd8000000 and a
// 4-byte one at port 0xe0, so guests can check the exit path and instruction emulation end to end.

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "hv/dev/bus_device.hpp"

namespace hv::dev {

class ScratchDevice final : public BusDevice {
 public:
  static constexpr std::uint64_t kMmioBase = 0xd8000000;
  static constexpr std::uint64_t kMmioSize = 4096;
  static constexpr std::uint64_t kPioBase = 0xe0;
  static constexpr std::uint64_t kPioSize = 4;

  explicit ScratchDevice(std::size_t size) : bytes_(size, 0) {}
  // The bus only forwards accesses that lie inside the device; anything else is ignored here too.
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  bool inside(std::uint64_t offset, std::size_t size) const noexcept {
    return offset <= bytes_.size() && size <= bytes_.size() - offset;
  }
  std::mutex mutex_;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace hv::dev
