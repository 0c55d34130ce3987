#pragma once
// The assembled guest programs (conformance/guests/*.S), embedded at build time.

#include <cstdint>
#include <span>
#include <string_view>

namespace hv::conformance {

inline constexpr std::uint64_t kGuestLoadAddress = 0x1000;  // every guest is linked here

// The flat binary of guests/<name>.S; an empty span if there is no such guest.
std::span<const std::uint8_t> guest_image(std::string_view name) noexcept;

}  // namespace hv::conformance
