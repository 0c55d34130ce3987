#pragma once
// The data every write of vhost-user-blk-load carries and every read checks: each 512-byte sector
// holds 64 words derived from its sector number alone. Two queues writing one sector write the same
// bytes, so concurrent writes never make a later read's check ambiguous, and a sector read from the
// wrong place (or not at all) does not match.

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace hvload {

inline constexpr std::uint64_t kPatternSeed = 0x6876'6b69'742d'626cULL;  // "hvkit-bl"

// splitmix64's finaliser: every input bit affects every output bit.
[[nodiscard]] constexpr std::uint64_t pattern_word(std::uint64_t sector, std::uint64_t word) noexcept {
  std::uint64_t z = kPatternSeed + (sector * 64 + word + 1) * 0x9e37'79b9'7f4a'7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebULL;
  return z ^ (z >> 31);
}

// Fills `data` (a whole number of sectors) with the pattern of the sectors from `first_sector` on.
inline void fill_pattern(std::span<std::uint8_t> data, std::uint64_t first_sector) noexcept {
  for (std::size_t offset = 0; offset + 8 <= data.size(); offset += 8) {
    const std::uint64_t word = pattern_word(first_sector + offset / 512, (offset % 512) / 8);
    std::memcpy(data.subspan(offset, 8).data(), &word, 8);
  }
}

// The first sector of `data` that does not hold its pattern, or nullopt when all do.
[[nodiscard]] inline std::optional<std::uint64_t> first_mismatch(std::span<const std::uint8_t> data,
                                                                 std::uint64_t first_sector) noexcept {
  for (std::size_t offset = 0; offset + 8 <= data.size(); offset += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data.subspan(offset, 8).data(), 8);
    if (word != pattern_word(first_sector + offset / 512, (offset % 512) / 8)) return first_sector + offset / 512;
  }
  return std::nullopt;
}

}  // namespace hvload
