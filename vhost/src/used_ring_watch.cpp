// The checks of a backend-written split ring (see used_ring_watch.hpp).
#include "used_ring_watch.hpp"

#include <algorithm>
#include <atomic>
#include <string>

namespace hv::vhost {
namespace {

constexpr const char* kOp = "vhost-user used ring";
constexpr std::uint64_t kUsedIndexOffset = 2;
constexpr std::uint64_t kUsedElementsOffset = 4;
constexpr std::uint64_t kUsedElementBytes = 8;  // le32 id, le32 len
constexpr std::uint16_t kAheadLimit = 0x8000;   // 16-bit distances from here on read as "behind"

}  // namespace

Result<void> UsedRingWatch::check(const GuestMemory& memory) {
  // Used first, then available: the available index read is at least the one the device saw.
  auto used = memory.load<std::uint16_t>(config_.used_ring + kUsedIndexOffset, std::memory_order_acquire);
  if (!used) return tl::unexpected(used.error());
  auto available = memory.load<std::uint16_t>(config_.available_ring + 2, std::memory_order_acquire);
  if (!available) return tl::unexpected(available.error());
  const auto ahead = static_cast<std::uint16_t>(*used - *available);
  if (ahead != 0 && ahead < kAheadLimit) {
    return fail(ErrorKind::ProtocolViolation, kOp,
                "the backend published used index " + std::to_string(*used) + ", " + std::to_string(ahead) +
                    " past the available index " + std::to_string(*available) + " (ring of " +
                    std::to_string(config_.size) + ")");
  }
  const auto published = static_cast<std::uint16_t>(*used - checked_used_);
  const std::uint16_t count = std::min(published, config_.size);
  for (std::uint16_t k = 0; k < count; ++k) {
    const auto position = static_cast<std::uint16_t>(*used - count + k);
    const std::uint64_t slot = position % config_.size;
    auto id = memory.load<std::uint32_t>(config_.used_ring + kUsedElementsOffset + slot * kUsedElementBytes,
                                         std::memory_order_relaxed);
    if (!id) return tl::unexpected(id.error());
    if (*id >= config_.size) {
      return fail(ErrorKind::ProtocolViolation, kOp,
                  "the backend's used element " + std::to_string(position) + " names descriptor " +
                      std::to_string(*id) + ", past the ring of " + std::to_string(config_.size));
    }
  }
  checked_used_ = *used;
  return {};
}

}  // namespace hv::vhost
