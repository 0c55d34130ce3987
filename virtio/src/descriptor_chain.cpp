#include "hv/virtio/descriptor_chain.hpp"

#include <algorithm>

namespace hv::virtio {

void BufferList::grow() {
  const std::size_t capacity = std::max<std::size_t>(4 * kInline, 2 * capacity_);
  auto bigger = std::make_unique<Buffer[]>(capacity);  // NOLINT(cppcoreguidelines-avoid-c-arrays)
  std::copy(begin(), end(), bigger.get());
  heap_ = std::move(bigger);
  data_ = heap_.get();
  capacity_ = capacity;
}

void BufferList::take(BufferList& other) noexcept {
  if (other.heap_) {
    heap_ = std::move(other.heap_);
    data_ = heap_.get();
    capacity_ = other.capacity_;
  } else {
    heap_.reset();
    inline_ = other.inline_;
    data_ = inline_.data();
    capacity_ = kInline;
  }
  size_ = other.size_;
  other.data_ = other.inline_.data();
  other.capacity_ = kInline;
  other.size_ = 0;
}

}  // namespace hv::virtio
