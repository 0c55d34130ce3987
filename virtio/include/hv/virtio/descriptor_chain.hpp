#pragma once
// A descriptor chain the driver made available: the buffers of one request, in order, each a
// guest-physical range that is device-readable or device-writable. Parsing validates the chain's
// structure (virtio 1.2 §2.7.5, §2.7.5.3); the buffers themselves are accessed later through
// GuestMemory, which checks bounds at that moment (the driver may change memory meanwhile).

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

namespace hv::virtio {

struct Buffer {
  std::uint64_t address = 0;
  std::uint32_t length = 0;
  bool device_writable = false;
  bool operator==(const Buffer&) const = default;
};

// The buffers of one chain. Most requests have a handful (virtio-blk: header, data, status; rng and
// console: one), so the first kInline live inside the chain and popping such a chain allocates
// nothing; longer chains move to the heap, and a chain object that is reused (pop_into) keeps its
// heap storage, so a device that pops into one chain per queue stops allocating after its longest
// chain. The length is bounded by the queues (at most one table's 32768 entries).
class BufferList {
 public:
  static constexpr std::size_t kInline = 4;

  BufferList() = default;
  BufferList(std::initializer_list<Buffer> buffers) { append(buffers); }
  // Implicit, so tests and fuzzers can assign a std::vector<Buffer> to DescriptorChain::buffers.
  BufferList(const std::vector<Buffer>& buffers) { append(buffers); }  // NOLINT(google-explicit-constructor)
  BufferList(const BufferList& other) { append(other.span()); }
  BufferList(BufferList&& other) noexcept { take(other); }
  BufferList& operator=(const BufferList& other) {
    if (this != &other) {
      size_ = 0;
      append(other.span());
    }
    return *this;
  }
  BufferList& operator=(BufferList&& other) noexcept {
    if (this != &other) take(other);
    return *this;
  }
  ~BufferList() = default;

  // Field by field: a Buffer assembled on the stack and copied whole would be read back as one
  // 16-byte load before its three narrower stores retire (a store-forwarding stall on every buffer).
  void emplace_back(std::uint64_t address, std::uint32_t length, bool device_writable) {
    if (size_ == capacity_) [[unlikely]]
      grow();
    Buffer& b = data_[size_++];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): size_ < capacity_
    b.address = address;
    b.length = length;
    b.device_writable = device_writable;
  }
  void push_back(const Buffer& b) { emplace_back(b.address, b.length, b.device_writable); }
  void clear() noexcept { size_ = 0; }  // keeps the storage

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::span<const Buffer> span() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::span<Buffer> span() noexcept { return {data_, size_}; }
  [[nodiscard]] const Buffer& operator[](std::size_t i) const noexcept { return span()[i]; }
  [[nodiscard]] Buffer& operator[](std::size_t i) noexcept { return span()[i]; }
  [[nodiscard]] const Buffer* begin() const noexcept { return data_; }
  [[nodiscard]] const Buffer* end() const noexcept { return data_ + size_; }  // NOLINT(*-pointer-arithmetic)
  [[nodiscard]] Buffer* begin() noexcept { return data_; }
  [[nodiscard]] Buffer* end() noexcept { return data_ + size_; }  // NOLINT(*-pointer-arithmetic)

  friend bool operator==(const BufferList& a, const BufferList& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const BufferList& a, const std::vector<Buffer>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  template <class Range>
  void append(const Range& buffers) {
    for (const Buffer& b : buffers) push_back(b);
  }
  void grow();  // doubles the capacity, moving to the heap
  void take(BufferList& other) noexcept;

  std::array<Buffer, kInline> inline_{};
  std::unique_ptr<Buffer[]> heap_;  // NOLINT(cppcoreguidelines-avoid-c-arrays): grown by doubling
  Buffer* data_ = inline_.data();   // inline_ or heap_
  std::size_t size_ = 0;
  std::size_t capacity_ = kInline;
};

struct DescriptorChain {
  std::uint16_t head = 0;  // what add_used() names this chain by (packed: the buffer ID)
  // The descriptors the chain occupies until it is used: split, its descriptor-table entries outside
  // any indirect table; packed, its ring slots (add_used skips them).
  std::uint16_t ring_slots = 1;
  BufferList buffers;  // device-readable buffers first, then device-writable ones
  std::uint64_t readable_bytes = 0;
  std::uint64_t writable_bytes = 0;
};

}  // namespace hv::virtio
