#pragma once
// Reads typed values from a libFuzzer input; past the end every read yields zero bytes, so targets
// never index out of the input and always terminate.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

namespace hvfuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const noexcept { return pos_ >= size_; }
  template <class T>
  T take() noexcept {
    T v{};
    const std::size_t n = std::min(sizeof(T), size_ - std::min(pos_, size_));
    if (n > 0) std::memcpy(&v, data_ + pos_, n);
    pos_ += sizeof(T);
    return v;
  }
  // Up to `max` bytes of the remaining input.
  std::span<const std::uint8_t> bytes(std::size_t max) noexcept {
    const std::size_t start = std::min(pos_, size_);
    const std::size_t n = std::min(max, size_ - start);
    pos_ = start + n;
    return {data_ + start, n};
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Fills `out` with `pattern` repeated (zeros when the pattern is empty): lets a short input describe
// a whole guest memory area.
inline void fill_repeating(std::span<std::uint8_t> out, std::span<const std::uint8_t> pattern) noexcept {
  std::memset(out.data(), 0, out.size());
  if (pattern.empty()) return;
  for (std::size_t at = 0; at < out.size(); at += pattern.size()) {
    std::memcpy(out.data() + at, pattern.data(), std::min(pattern.size(), out.size() - at));
  }
}

}  // namespace hvfuzz
