#include "hv/dev/cmos_rtc.hpp"

#include <algorithm>
#include <utility>

#include <gsl/gsl>

namespace hv::dev {

namespace {
constexpr std::uint8_t kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06, kDay = 0x07;
constexpr std::uint8_t kMonth = 0x08, kYear = 0x09, kStatusA = 0x0a, kStatusB = 0x0b, kStatusC = 0x0c;
constexpr std::uint8_t kStatusD = 0x0d, kCentury = 0x32;
constexpr std::uint8_t kStatusB24Hour = 0x02, kStatusBBinary = 0x04;
constexpr std::uint8_t kStatusDValid = 0x80;
constexpr std::uint8_t kHourPm = 0x80;
}  // namespace

CmosRtc::CmosRtc(Clock clock) : clock_(std::move(clock)) {
  ram_[kStatusA] = 0x26;            // 32.768 kHz time base, 1024 Hz periodic rate; UIP never set
  ram_[kStatusB] = kStatusB24Hour;  // BCD, 24-hour: what PC firmware leaves for the OS
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0xff});
  if (data.size() != 1) return;
  std::lock_guard lock(mutex_);
  if (offset == 1) data[0] = read_register(index_);
}

void CmosRtc::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (data.size() != 1) return;
  std::lock_guard lock(mutex_);
  if (offset == 0) {
    index_ = data[0] & 0x7f;  // bit 7 is the NMI mask, not part of the index
    return;
  }
  switch (index_) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kWeekday:
    case kDay:
    case kMonth:
    case kYear:
    case kCentury: break;                                   // the host clock is the source of truth
    case kStatusA: ram_[kStatusA] = data[0] & 0x7f; break;  // UIP is read-only
    case kStatusC:
    case kStatusD: break;  // read-only
    default: gsl::at(ram_, index_) = data[0]; break;
  }
}

std::uint8_t CmosRtc::encode(unsigned value) const {
  if ((ram_[kStatusB] & kStatusBBinary) != 0) return static_cast<std::uint8_t>(value);
  return static_cast<std::uint8_t>(((value / 10) << 4) | (value % 10));
}

std::uint8_t CmosRtc::read_register(std::uint8_t index) {
  if (index > kYear && index != kCentury) {
    if (index == kStatusC) return std::exchange(ram_[kStatusC], 0);  // reading clears the flags
    if (index == kStatusD) return kStatusDValid;
    return gsl::at(ram_, index);
  }
  if (index == 0x01 || index == 0x03 || index == 0x05) return gsl::at(ram_, index);  // alarm registers
  const std::time_t now = clock_();
  std::tm t{};
  if (gmtime_r(&now, &t) == nullptr) t = std::tm{};  // a clock gmtime cannot represent reads as 1900-01-00
  const long long year = static_cast<long long>(t.tm_year) + 1900;  // 64-bit: tm_year may be near INT_MAX
  switch (index) {
    case kSeconds: return encode(static_cast<unsigned>(std::min(t.tm_sec, 59)));
    case kMinutes: return encode(static_cast<unsigned>(t.tm_min));
    case kHours: {
      const auto hour = static_cast<unsigned>(t.tm_hour);
      if ((ram_[kStatusB] & kStatusB24Hour) != 0) return encode(hour);
      const unsigned twelve = hour % 12 == 0 ? 12 : hour % 12;
      return static_cast<std::uint8_t>(encode(twelve) | (hour >= 12 ? kHourPm : 0));
    }
    case kWeekday: return encode(static_cast<unsigned>(t.tm_wday) + 1);  // Sunday = 1
    case kDay: return encode(static_cast<unsigned>(t.tm_mday));
    case kMonth: return encode(static_cast<unsigned>(t.tm_mon) + 1);
    case kYear: return encode(static_cast<unsigned>(((year % 100) + 100) % 100));
    case kCentury: return encode(static_cast<unsigned>(((year / 100) % 100 + 100) % 100));
    default: return gsl::at(ram_, index);
  }
}

}  // namespace hv::dev
