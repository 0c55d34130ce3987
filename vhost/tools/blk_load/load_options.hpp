#pragma once
// vhost-user-blk-load's command line: what to run against which backend. Parsing only; a usage error
// is an Error (InvalidArgument) whose message says what is wrong, and the program exits 2 with it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hv/error.hpp"

namespace hvload {

enum class AccessPattern : std::uint8_t { RandRead, RandWrite, Read, Write };

[[nodiscard]] constexpr bool is_read(AccessPattern p) noexcept {
  return p == AccessPattern::RandRead || p == AccessPattern::Read;
}
[[nodiscard]] constexpr bool is_random(AccessPattern p) noexcept {
  return p == AccessPattern::RandRead || p == AccessPattern::RandWrite;
}
[[nodiscard]] std::string_view to_string(AccessPattern p) noexcept;

// Bounds: a request's data is one buffer of at most kMaxBlockSize bytes (the size_max our daemon
// advertises), and a queue holds 3 descriptors per request in a ring of at most kMaxRingSize entries.
inline constexpr std::uint32_t kSectorSize = 512;
inline constexpr std::uint32_t kMaxBlockSize = 1U << 20;
inline constexpr std::uint32_t kMaxRingSize = 1024;
inline constexpr std::uint32_t kMaxIodepth = kMaxRingSize / 3;
inline constexpr std::uint16_t kMaxQueues = 16;
inline constexpr std::uint32_t kMaxSeconds = 3600;

struct LoadOptions {
  std::string socket;
  AccessPattern pattern = AccessPattern::RandRead;
  std::uint32_t block_size = 4096;
  std::uint32_t iodepth = 1;
  std::uint16_t queues = 1;
  std::uint32_t milliseconds = 5000;  // --seconds, which takes a decimal fraction ("1.5")
  std::optional<std::uint64_t> size;  // --size: the bytes of the device to use (default: all of it)
  bool json = false;
  // --no-event-idx clears it: VIRTIO_RING_F_EVENT_IDX is negotiated when the backend offers it.
  bool event_idx = true;
};

struct ParsedArgs {
  bool help = false;  // --help: print usage_text() and exit 0, whatever else was given
  LoadOptions options;
};

// `args` without the program name. Every option but --json and --help takes a value (as the next
// argument or after '='); each may be given once; --socket and --rw are required.
hv::Result<ParsedArgs> parse_args(const std::vector<std::string>& args);

[[nodiscard]] std::string usage_text();

}  // namespace hvload
