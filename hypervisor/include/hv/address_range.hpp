#pragma once
// A non-empty range of addresses [start, start + size) that does not wrap past 2^64.
// Every range hvkit accepts from a caller or a guest is built through make(), so later arithmetic on
// it cannot overflow.

#include <cstdint>

#include "hv/error.hpp"

namespace hv {

inline constexpr std::uint64_t kPageSize = 4096;

class AddressRange {
 public:
  // InvalidArgument for size 0; OutOfRange when start + size - 1 overflows.
  static Result<AddressRange> make(std::uint64_t start, std::uint64_t size, const char* operation);

  [[nodiscard]] std::uint64_t start() const noexcept { return start_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t last() const noexcept { return start_ + (size_ - 1); }
  [[nodiscard]] bool contains(std::uint64_t address) const noexcept { return address >= start_ && address <= last(); }
  [[nodiscard]] bool contains(const AddressRange& other) const noexcept {
    return other.start_ >= start_ && other.last() <= last();
  }
  [[nodiscard]] bool overlaps(const AddressRange& other) const noexcept {
    return start_ <= other.last() && other.start_ <= last();
  }
  [[nodiscard]] bool page_aligned() const noexcept { return start_ % kPageSize == 0 && size_ % kPageSize == 0; }

 private:
  AddressRange(std::uint64_t start, std::uint64_t size) noexcept : start_(start), size_(size) {}
  std::uint64_t start_;
  std::uint64_t size_;
};

}  // namespace hv
