#include "demo_guest.hpp"

#include <string_view>

namespace hvctl {

namespace {
struct GuestImageEntry {
  std::string_view name;
  std::span<const std::uint8_t> bytes;
};
#include "guest_images_table.inc"
}  // namespace

std::span<const std::uint8_t> demo_guest() noexcept {
  for (const auto& g : kGuestImages) {
    if (g.name == "demo") return g.bytes;
  }
  return {};
}

}  // namespace hvctl
