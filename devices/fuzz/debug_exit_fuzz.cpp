// The diagnostic devices: debug-exit and the scratch windows (4 KiB MMIO, 4-byte PIO).
#include "device_fuzz_driver.hpp"
#include "hv/dev/debug_exit.hpp"
#include "hv/dev/scratch_device.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  int exits = 0;
  hv::dev::DebugExit port([&](std::uint32_t) { ++exits; });
  hv::dev::ScratchDevice mmio(hv::dev::ScratchDevice::kMmioSize);
  hv::dev::ScratchDevice pio(hv::dev::ScratchDevice::kPioSize);
  const auto which = in.take<std::uint8_t>() % 3;
  if (which == 0) hvfuzz::drive_device(port, hv::dev::DebugExit::kSize, in);
  if (which == 1) hvfuzz::drive_device(mmio, hv::dev::ScratchDevice::kMmioSize, in);
  if (which == 2) hvfuzz::drive_device(pio, hv::dev::ScratchDevice::kPioSize, in);
  return 0;
}
