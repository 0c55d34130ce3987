#include "counting_allocator.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> counting_all_threads{false};
thread_local bool counting_this_thread = false;
std::atomic<std::uint64_t> allocations{0};

void* counted_allocation(std::size_t size) noexcept {
  if (counting_this_thread || counting_all_threads.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return std::malloc(size == 0 ? 1 : size);  // NOLINT(cppcoreguidelines-no-malloc): the allocator itself
}

}  // namespace

namespace hvtest {

void start_counting_allocations(CountOn where) noexcept {
  allocations.store(0, std::memory_order_relaxed);
  if (where == CountOn::AllThreads) {
    counting_all_threads.store(true, std::memory_order_relaxed);
  } else {
    counting_this_thread = true;
  }
}

std::uint64_t stop_counting_allocations() noexcept {
  counting_all_threads.store(false, std::memory_order_relaxed);
  counting_this_thread = false;
  return allocations.load(std::memory_order_relaxed);
}

}  // namespace hvtest

// GCC cannot see that these are the replacements of each other, so it calls free() on new's pointer
// a mismatch; here it is the definition of the pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// NOLINTBEGIN(cppcoreguidelines-no-malloc): the replacements allocate with malloc and free with free.
void* operator new(std::size_t size) {
  if (void* p = counted_allocation(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = counted_allocation(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_allocation(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
// NOLINTEND(cppcoreguidelines-no-malloc)
