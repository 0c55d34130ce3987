#pragma once
// For concurrency tests: runs body(0) ... body(n - 1) on n threads that start together (a latch
// releases them at once, so they really overlap), and joins them.

#include <functional>
#include <latch>
#include <thread>
#include <vector>

namespace hv::testing {

inline void run_threads(int n, const std::function<void(int)>& body) {
  std::latch start(n);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace hv::testing
