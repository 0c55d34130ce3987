// Recovery from an in-flight record a hostile frontend wrote (or a dying backend left half-written):
// whatever the record's bytes, the used index and the ring size, recovery either refuses it or yields
// a replay list of distinct heads inside the ring, and a position that accounts for each of them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>

#include "hv/vhost/inflight.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint16_t used_index = 0;
  std::uint16_t ring_size = 0;
  std::memcpy(&used_index, data, 2);
  std::memcpy(&ring_size, data + 2, 2);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  ring_size = static_cast<std::uint16_t>(ring_size % 300);
  constexpr std::uint16_t kQueueSize = 256;
  auto mapping = hv::GuestRegion::create(0, 8192, hv::Backing::Memfd);
  if (!mapping) __builtin_trap();
  auto host = (*mapping)->host();
  std::memcpy(host.data(), data + 4, std::min<std::size_t>(size - 4, host.size()));  // NOLINT
  const hv::vhost::Inflight description{hv::vhost::inflight_queue_bytes(kQueueSize), 0, 1, kQueueSize, {}};
  auto region = hv::vhost::InflightRegion::adopt(*mapping, description);
  if (!region) __builtin_trap();  // a consistent description of a large enough mapping
  auto log = (*region)->queue(0, ring_size, used_index);
  if (!log) return 0;
  if (ring_size == 0 || ring_size > kQueueSize) __builtin_trap();  // must have been refused
  std::set<std::uint16_t> seen;
  const std::size_t count = (*log)->replay_count();
  while (auto head = (*log)->next_replay()) {
    if (*head >= ring_size || !seen.insert(*head).second) __builtin_trap();
  }
  if (seen.size() != count || count > ring_size) __builtin_trap();
  if ((*log)->next_avail() != static_cast<std::uint16_t>(used_index + count)) __builtin_trap();
  // A second recovery of the same record (a second restart) agrees with the first.
  auto again = (*region)->queue(0, ring_size, used_index);
  if (!again || (*again)->replay_count() != count) __builtin_trap();
  return 0;
}
