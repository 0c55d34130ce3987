#pragma once
// A mutex on one atomic word for locks held for a few nanoseconds around a device's register access:
// an uncontended lock() is one compare-exchange and unlock() one exchange, both inline, where
// std::mutex calls into libc for each (bench/hot_paths' uart/*/locked shapes measure the difference).
// A contended lock() sleeps in the kernel (a futex, through
// std::atomic::wait) instead of spinning, so a vCPU that waits costs no CPU. Not recursive; meets
// Lockable, so std::lock_guard and std::unique_lock take it.
//
// The algorithm is the classic three-state futex mutex (U. Drepper, "Futexes Are Tricky", mutex 2;
// also Rust's std::sync::Mutex on Linux): 0 unlocked, 1 locked, 2 locked and someone may be waiting.

#include <atomic>
#include <cstdint>

namespace hv::dev {

class FutexMutex {
 public:
  FutexMutex() = default;
  ~FutexMutex() = default;
  FutexMutex(const FutexMutex&) = delete;
  FutexMutex& operator=(const FutexMutex&) = delete;
  FutexMutex(FutexMutex&&) = delete;
  FutexMutex& operator=(FutexMutex&&) = delete;

  void lock() noexcept {
    std::uint32_t expected = kUnlocked;
    if (!state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire, std::memory_order_relaxed)) {
      lock_contended();
    }
  }
  bool try_lock() noexcept {
    std::uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kContended) state_.notify_one();
  }

 private:
  static constexpr std::uint32_t kUnlocked = 0, kLocked = 1, kContended = 2;

  void lock_contended() noexcept {
    // Marking the word contended before sleeping makes the holder's unlock() wake a waiter; a thread
    // that finds it unlocked here takes it (still marked contended: one wake-up too many, never one
    // too few).
    while (state_.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
      state_.wait(kContended, std::memory_order_relaxed);
    }
  }

  std::atomic<std::uint32_t> state_{kUnlocked};
};

}  // namespace hv::dev
