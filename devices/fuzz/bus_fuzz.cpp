// Bus registration and dispatch against a reference model: an access is claimed exactly when one
// registered range contains all of it.
#include <vector>

#include "fuzz_input.hpp"
#include "hv/dev/bus.hpp"
#include "hv/dev/scratch_device.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto bus = (in.take<std::uint8_t>() & 1) != 0 ? hv::dev::Bus::pio() : hv::dev::Bus::mmio();
  struct Range {
    std::uint64_t base, size;
  };
  std::vector<Range> model;
  const int devices = in.take<std::uint8_t>() % 8;
  for (int i = 0; i < devices; ++i) {
    // Small bases near interesting edges (0, the PIO limit, 2^64) and small sizes.
    const std::uint64_t edge = (in.take<std::uint8_t>() % 3 == 0) ? ~std::uint64_t{0} - 0x1000 : 0;
    const std::uint64_t base = edge + in.take<std::uint16_t>();
    const std::uint64_t length = in.take<std::uint16_t>() % 0x200;
    if (bus.insert(std::make_shared<hv::dev::ScratchDevice>(0x200), base, length)) model.push_back({base, length});
  }
  std::uint8_t buffer[8];
  for (int step = 0; step < 256 && !in.empty(); ++step) {
    const std::uint64_t address =
        (in.take<std::uint8_t>() % 3 == 0 ? ~std::uint64_t{0} - 0x1000 : 0) + in.take<std::uint16_t>();
    const std::size_t width = std::size_t{1} << (in.take<std::uint8_t>() & 3);
    bool expected = false;
    for (const auto& r : model) {
      expected |= address >= r.base && address - r.base < r.size && width <= r.size - (address - r.base);
    }
    if (bus.read(address, std::span(buffer, width)) != expected) __builtin_trap();
    if (bus.write(address, std::span<const std::uint8_t>(buffer, width)) != expected) __builtin_trap();
  }
  return 0;
}
