#pragma once
// Storage for KVM's variable-length ioctl structs (a C header followed by N entries).

#include <cstddef>
#include <span>
#include <vector>

namespace hv::kvm::detail {

template <class Header, class Entry>
class VarStruct {
  static_assert(sizeof(Header) % alignof(Entry) == 0, "entries must follow the header without padding");

 public:
  explicit VarStruct(std::size_t count) : storage_(sizeof(Header) + count * sizeof(Entry)), count_(count) {}

  // Sound: storage_ is a byte array from operator new (aligned for any fundamental type, which covers the
  // 8-byte alignment of these C structs); byte arrays implicitly create implicit-lifetime objects such
  // as these trivially-copyable structs, and the offsets below stay inside the allocation.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sound, see above
  Header* header() noexcept { return reinterpret_cast<Header*>(storage_.data()); }
  std::span<Entry> entries() noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sound, see above
    return {reinterpret_cast<Entry*>(storage_.data() + sizeof(Header)), count_};
  }
  void* data() noexcept { return storage_.data(); }

 private:
  std::vector<std::byte> storage_;
  std::size_t count_;
};

}  // namespace hv::kvm::detail
