#pragma once
// What the split and packed queue tests of pop_into share: chains of several shapes (one buffer,
// six across the readable/writable boundary, two, five for an indirect table), a chain object full
// of leftovers (as a device's reused chain is), and the comparison of two chains field by field.

#include <array>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"
#include "hv/virtio/descriptor_chain.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace hvtest {

using hv::virtio::testing::BufferSpec;

// Buffers at `data` and above, in shapes that exercise the inline storage (up to four buffers) and
// the heap (more).
struct ReuseShapes {
  explicit ReuseShapes(std::uint64_t data)
      : one{{{data, 8, true}}},
        six{{{data, 16, false},
             {data + 0x100, 32, false},
             {data + 0x200, 48, false},
             {data + 0x300, 64, true},
             {data + 0x400, 80, true},
             {data + 0x500, 96, true}}},
        two{{{data + 0x600, 4, false}, {data + 0x700, 5, true}}},
        five{
            {{data, 1, false}, {data + 1, 2, false}, {data + 3, 3, false}, {data + 6, 4, true}, {data + 10, 5, true}}} {
  }
  std::array<BufferSpec, 1> one;
  std::array<BufferSpec, 6> six;  // 96 readable bytes, then 240 writable
  std::array<BufferSpec, 2> two;
  std::array<BufferSpec, 5> five;
};

inline void expect_same_chain(const hv::virtio::DescriptorChain& got, const hv::virtio::DescriptorChain& expected,
                              const std::string& what) {
  EXPECT_EQ(got.head, expected.head) << what;
  EXPECT_EQ(got.ring_slots, expected.ring_slots) << what;
  EXPECT_EQ(got.buffers, expected.buffers) << what;
  EXPECT_EQ(got.readable_bytes, expected.readable_bytes) << what;
  EXPECT_EQ(got.writable_bytes, expected.writable_bytes) << what;
}

// A chain object full of leftovers, as a device's reused chain is.
inline hv::virtio::DescriptorChain stale_chain() {
  hv::virtio::DescriptorChain chain;
  chain.head = 77;
  chain.ring_slots = 9;
  for (std::uint64_t i = 0; i < 7; ++i) chain.buffers.emplace_back(0xdead0000 + i, 99, i % 2 == 0);
  chain.readable_bytes = 12345;
  chain.writable_bytes = 67890;
  return chain;
}

// Takes `count` chains from two queues over the same ring, one by pop() and one by pop_into() into
// a chain object full of leftovers: each must be the same chain; then pop_into() finds nothing.
template <class Queue>
void expect_pop_into_matches_pop(Queue& by_pop, Queue& by_pop_into, const hv::GuestMemory& memory, int count) {
  auto reused = stale_chain();
  for (int i = 0; i < count; ++i) {
    auto expected = by_pop.pop(memory);
    ASSERT_TRUE(expected && *expected) << i;
    auto taken = by_pop_into.pop_into(memory, reused);
    ASSERT_TRUE(taken) << taken.error().to_string();
    ASSERT_TRUE(*taken) << "pop_into found nothing where pop found chain " << i;
    expect_same_chain(reused, **expected, "chain " + std::to_string(i));
  }
  auto none = by_pop_into.pop_into(memory, reused);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

}  // namespace hvtest
