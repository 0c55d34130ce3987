// CMOS RTC under arbitrary index/data sequences and arbitrary host clock values (including ones
// gmtime cannot represent).
#include "device_fuzz_driver.hpp"
#include "hv/dev/cmos_rtc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  std::time_t now = static_cast<std::time_t>(in.take<std::int64_t>());
  hv::dev::CmosRtc rtc([&] { return now; });
  hvfuzz::drive_device(rtc, hv::dev::CmosRtc::kSize, in, [&](std::uint8_t, hvfuzz::FuzzInput& more) {
    now = static_cast<std::time_t>(more.take<std::int64_t>());
  });
  return 0;
}
