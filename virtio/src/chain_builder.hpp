#pragma once
// The checks every buffer of a chain gets, whatever the ring layout (internal to virtio/src):
// device-readable buffers come before device-writable ones (by position), address + length must not
// overflow, and the whole chain stays under 4 GiB (the used length is 32 bits).

#include <cstdint>
#include <string>

#include "hv/error.hpp"
#include "hv/virtio/descriptor_chain.hpp"

namespace hv::virtio::detail {

// Builds an error out of line: its message is formatted only when it fails, and the hot path that
// calls this keeps no stack frame or code for the strings. Use it as
// `return tl::unexpected(cold_error([&] { return Error(...); }));`.
template <class Build>
[[gnu::cold, gnu::noinline]] Error cold_error(Build build) {
  return build();
}

class ChainBuilder {
 public:
  // Starts `chain` afresh (its buffer storage is kept, so a reused chain does not allocate again).
  ChainBuilder(const char* operation, DescriptorChain& chain) : operation_(operation), chain_(chain) {
    chain_.buffers.clear();
    chain_.readable_bytes = 0;
    chain_.writable_bytes = 0;
    chain_.ring_slots = 1;
  }
  // nullptr when the buffer was added, else why not. (No Result here: this runs once per buffer on
  // the queue's hot path, and an error is built only when there is one.)
  [[nodiscard]] const char* add(std::uint64_t address, std::uint32_t length, bool device_writable);
  DescriptorChain& chain() noexcept { return chain_; }
  Error broken(const std::string& what) const { return Error(ErrorKind::ProtocolViolation, operation_, what); }

 private:
  const char* operation_;
  DescriptorChain& chain_;
  bool seen_writable_ = false;
};

inline const char* ChainBuilder::add(std::uint64_t address, std::uint32_t length, bool device_writable) {
  // By position, not by byte count: a zero-length writable buffer still ends the readable part
  // (the split-ring fuzz target found the byte-count version accepting readable-after-writable).
  if (!device_writable && seen_writable_) return "a device-readable buffer after a device-writable one";
  seen_writable_ = seen_writable_ || device_writable;
  if (length > ~std::uint64_t{0} - address) return "buffer address + length overflows";
  (device_writable ? chain_.writable_bytes : chain_.readable_bytes) += length;
  if (chain_.readable_bytes + chain_.writable_bytes > 0xffffffffULL) return "chain longer than 4 GiB";
  chain_.buffers.emplace_back(address, length, device_writable);
  return nullptr;
}

}  // namespace hv::virtio::detail
