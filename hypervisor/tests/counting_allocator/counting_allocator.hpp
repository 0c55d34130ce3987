#pragma once
// Counts heap allocations for tests that promise none (or a known number). A binary that links
// hvkit_counting_allocator gets a replacement of every form of global operator new and delete (the
// library allocates some objects with nothrow new), counting calls while counting is on.

#include <cstdint>

namespace hvtest {

enum class CountOn : std::uint8_t {
  ThisThread,  // allocations made by the calling thread only
  AllThreads,  // allocations made by any thread (a backend may serve a call on a thread of its own)
};

void start_counting_allocations(CountOn where) noexcept;
// Stops counting and returns how many allocations were counted since the start.
std::uint64_t stop_counting_allocations() noexcept;

// The allocations `body` makes.
template <class F>
std::uint64_t allocations_in(CountOn where, F&& body) {
  start_counting_allocations(where);
  body();
  return stop_counting_allocations();
}

}  // namespace hvtest
