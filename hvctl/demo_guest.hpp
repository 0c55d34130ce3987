#pragma once
#include <cstdint>
#include <span>

namespace hvctl {
// The flat binary of guests/demo.S (64-bit, linked at 0x1000).
std::span<const std::uint8_t> demo_guest() noexcept;
}  // namespace hvctl
