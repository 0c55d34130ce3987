#pragma once
// A descriptor chain the driver made available: the buffers of one request, in order, each a
// guest-physical range that is device-readable or device-writable. Parsing validates the chain's
// structure (virtio 1.2 §2.7.5, §2.7.5.3); the buffers themselves are accessed later through
// GuestMemory, which checks bounds at that moment (the driver may change memory meanwhile).

#include <cstdint>
#include <vector>

namespace hv::virtio {

struct Buffer {
  std::uint64_t address = 0;
  std::uint32_t length = 0;
  bool device_writable = false;
  bool operator==(const Buffer&) const = default;
};

struct DescriptorChain {
  std::uint16_t head = 0;        // what add_used() names this chain by (packed: the buffer ID)
  std::uint16_t ring_slots = 1;  // packed: descriptors the chain takes in the ring (add_used skips them)
  std::vector<Buffer> buffers;   // device-readable buffers first, then device-writable ones
  std::uint64_t readable_bytes = 0;
  std::uint64_t writable_bytes = 0;
};

}  // namespace hv::virtio
