// i8042 under arbitrary command and data sequences.
#include "device_fuzz_driver.hpp"
#include "hv/dev/i8042.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto irq = std::make_shared<hvfuzz::CountingLine>();
  int resets = 0;
  hv::dev::I8042 kbc([&] { ++resets; }, irq);
  hvfuzz::drive_device(kbc, hv::dev::I8042::kSize, in);
  return 0;
}
