#pragma once
// Drives one bus device with an arbitrary sequence of reads and writes: widths 1, 2, 4 and 8, offsets
// inside and just past the device's range, written values from the input. Devices must not crash,
// read or write out of bounds (ASan), or grow without bound.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "fuzz_input.hpp"
#include "hv/dev/bus_device.hpp"
#include "hv/dev/interrupt_line.hpp"

namespace hvfuzz {

class CountingLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

// `extra(op, input)` handles operation codes the generic driver does not (host input, clock changes).
inline void drive_device(hv::dev::BusDevice& device, std::uint64_t range, FuzzInput& in,
                         const std::function<void(std::uint8_t, FuzzInput&)>& extra = {}) {
  std::array<std::uint8_t, 8> buffer{};
  for (int step = 0; step < 512 && !in.empty(); ++step) {
    const auto op = in.take<std::uint8_t>();
    const std::uint64_t offset = in.take<std::uint16_t>() % (range + 8);  // include offsets past the end
    const std::size_t width = std::size_t{1} << ((op >> 1) & 3);
    switch (op & 0x11) {
      case 0x00: device.read(offset, std::span(buffer).first(width)); break;
      case 0x01: {
        const auto value = in.take<std::uint64_t>();
        std::memcpy(buffer.data(), &value, sizeof value);
        device.write(offset, std::span(buffer).first(width));
        break;
      }
      default:
        if (extra) extra(op, in);
        break;
    }
  }
}

}  // namespace hvfuzz
