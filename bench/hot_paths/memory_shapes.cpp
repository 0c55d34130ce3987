// Guest memory: 8-byte objects and 4 KiB blocks at pseudo-random addresses of one 4 MiB region, the
// same splitmix64 address sequence as the peer program's (seeds 42 and 43).
#include <memory>
#include <vector>

#include "guest_layout.hpp"
#include "shape_registry.hpp"

namespace hvbench {

namespace {

constexpr std::size_t kU64Addresses = 4096;
constexpr std::size_t kPageAddresses = 256;

std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 8-byte-aligned addresses a with [a, a + length) inside the region.
std::vector<std::uint64_t> addresses(std::size_t count, std::uint64_t length, std::uint64_t seed) {
  const std::uint64_t slots = (kMainRegionSize - length) / 8 + 1;
  std::vector<std::uint64_t> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back((splitmix64(seed) % slots) * 8);
  return out;
}

}  // namespace

void add_memory_shapes() {
  add_shape("mem/read_obj_u64", kU64Addresses, "op", [] {
    return [memory = one_region(), at = addresses(kU64Addresses, 8, 42)] {
      std::uint64_t sum = 0;
      for (const std::uint64_t a : at) {
        auto value = memory->read_obj<std::uint64_t>(a);
        if (!value) std::abort();
        sum += *value;
      }
      black_box(sum);
    };
  });
  add_shape("mem/write_obj_u64", kU64Addresses, "op", [] {
    return [memory = one_region(), at = addresses(kU64Addresses, 8, 42)] {
      std::uint64_t i = 0;
      for (const std::uint64_t a : at) {
        if (!memory->write_obj<std::uint64_t>(a, i++)) std::abort();
      }
    };
  });
  add_shape("mem/read_4k", kPageAddresses, "op", [] {
    return [memory = one_region(), at = addresses(kPageAddresses, 4096, 43),
            buffer = std::vector<std::uint8_t>(4096, 0x5a)]() mutable {
      for (const std::uint64_t a : at) {
        if (!memory->read(a, buffer)) std::abort();
        black_box(buffer.data());
      }
    };
  });
  add_shape("mem/write_4k", kPageAddresses, "op", [] {
    return [memory = one_region(), at = addresses(kPageAddresses, 4096, 43),
            buffer = std::vector<std::uint8_t>(4096, 0x5a)]() mutable {
      for (const std::uint64_t a : at) {
        black_box(buffer.data());
        if (!memory->write(a, buffer)) std::abort();
      }
    };
  });
}

}  // namespace hvbench
