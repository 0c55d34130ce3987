#include "guest_images.hpp"

namespace hv::conformance {

namespace {
struct GuestImageEntry {
  std::string_view name;
  std::span<const std::uint8_t> bytes;
};
// The build generates this table: one entry per guests/*.S, pointing at its .incbin'd binary.
#include "guest_images_table.inc"
}  // namespace

std::span<const std::uint8_t> guest_image(std::string_view name) noexcept {
  for (const auto& g : kGuestImages) {
    if (g.name == name) return g.bytes;
  }
  return {};
}

}  // namespace hv::conformance
