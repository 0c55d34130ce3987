#pragma once
// The MC146818 CMOS real-time clock at ports 0x70 (index) and 0x71 (data): time and date from the
// host clock in BCD or binary and 12- or 24-hour format as status register B selects, status
// registers A–D, and the rest of the 128 bytes as CMOS RAM. Guest writes to the time registers are
// ignored (the host clock is the source of truth); the update interrupts are not implemented.

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <span>

#include "hv/dev/bus_device.hpp"

namespace hv::dev {

class CmosRtc final : public BusDevice {
 public:
  static constexpr std::uint64_t kBase = 0x70;
  static constexpr std::uint64_t kSize = 2;
  using Clock = std::function<std::time_t()>;

  explicit CmosRtc(Clock clock = [] { return std::time(nullptr); });
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::uint8_t read_register(std::uint8_t index);
  std::uint8_t encode(unsigned value) const;  // BCD or binary per status B

  Clock clock_;
  std::mutex mutex_;
  std::uint8_t index_ = 0;
  std::array<std::uint8_t, 128> ram_{};
};

}  // namespace hv::dev
