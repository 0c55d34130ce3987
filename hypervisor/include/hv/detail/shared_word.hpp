#pragma once
// Atomic access to one naturally aligned word of guest memory, for the few fields a device and a
// driver update concurrently (virtqueue ring indices and event fields; virtio 1.2 §2.7.13 and §2.8.21
// require ordered accesses to them). This is the one place that turns a host address inside guest RAM
// into a typed reference.

#include <atomic>
#include <cstdint>
#include <new>
#include <type_traits>

namespace hv::detail {

template <class T>
concept SharedWord = std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                     (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

// Sound because: the caller passes a pointer into a live host mapping of guest RAM (mmap'd, so it
// outlives every object here), aligned to sizeof(T) (GuestMemory checks the guest address's alignment,
// and every region's host mapping is page-aligned); the bytes hold an object representation of T for
// every bit pattern (an integer type); and the host CPUs hvkit runs on (x86-64) make aligned 1/2/4/8-
// byte accesses single-copy atomic, which std::atomic_ref<T> relies on (is_always_lock_free).
template <SharedWord T>
std::atomic_ref<T> shared_word(std::uint8_t* at) noexcept {
  static_assert(std::atomic_ref<T>::is_always_lock_free);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): see above; the guest-RAM word ABI
  return std::atomic_ref<T>(*std::launder(reinterpret_cast<T*>(at)));
}

}  // namespace hv::detail
