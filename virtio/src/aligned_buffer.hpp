#pragma once
// A heap buffer whose start is aligned for O_DIRECT, allocated on first use and kept: virtio-blk's
// bounce buffer for --direct, one per worker thread (so at most queue_depth per queue), used only for
// a request whose guest buffers the file's direct I/O cannot take as they are.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>

namespace hv::virtio {

// Frees what operator new(size, align_val_t) gave, with the alignment it was given.
struct AlignedFree {
  std::size_t alignment = 1;
  void operator()(std::uint8_t* p) const noexcept { ::operator delete (p, std::align_val_t{alignment}); }
};

class AlignedBuffer {
 public:
  AlignedBuffer(std::size_t size, std::size_t alignment) noexcept : size_(size), alignment_(alignment) {}

  // The whole buffer, allocated now if it was not yet; empty if the allocation failed (the request
  // then fails with an I/O error rather than the process with bad_alloc).
  std::span<std::uint8_t> get() noexcept {
    if (!data_) {
      data_.reset(static_cast<std::uint8_t*>(::operator new (size_, std::align_val_t{alignment_}, std::nothrow)));
      data_.get_deleter().alignment = alignment_;
    }
    if (!data_) return {};
    return {data_.get(), size_};
  }

 private:
  std::size_t size_;
  std::size_t alignment_;
  std::unique_ptr<std::uint8_t, AlignedFree> data_;
};

}  // namespace hv::virtio
