#pragma once
// A debug-exit port: a guest write of value v asks the VMM to end the VM with exit status v. Test
// guests use it to report pass/fail without a console. Port 0x501 by default; accepts 1, 2 or 4 bytes.

#include <cstdint>
#include <functional>
#include <span>

#include "hv/dev/bus_device.hpp"

namespace hv::dev {

class DebugExit final : public BusDevice {
 public:
  static constexpr std::uint64_t kDefaultPort = 0x501;
  static constexpr std::uint64_t kSize = 4;

  explicit DebugExit(std::function<void(std::uint32_t status)> on_exit) : on_exit_(std::move(on_exit)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::function<void(std::uint32_t)> on_exit_;
};

}  // namespace hv::dev
