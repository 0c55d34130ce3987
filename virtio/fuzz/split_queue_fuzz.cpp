// The split virtqueue on driver-controlled memory a fuzzer writes: descriptor table, available ring,
// indirect tables, indices and flags are all fuzzer bytes; the queue configuration too. Invariants:
// no crash or out-of-bounds access (ASan), every accepted chain is well-formed (readable before
// writable, at most 4 GiB - 1 in total, no more buffers than the tables it walked can hold), and the
// work per input is bounded.
#include <cstring>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/virtio/split_queue.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec spec{0, 0x20000};  // 128 KiB of guest RAM
    return std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }();
  hv::virtio::SplitQueueConfig config;
  config.size = static_cast<std::uint16_t>(1U << (in.take<std::uint8_t>() % 9));  // 1..256, sometimes bad below
  if (in.take<std::uint8_t>() == 0xff) config.size = in.take<std::uint16_t>();    // any value, 0 included
  config.descriptor_table = in.take<std::uint16_t>() & ~0xfULL;
  config.available_ring = 0x10000 + (in.take<std::uint16_t>() & 0x7ffe);
  config.used_ring = 0x18000 + (in.take<std::uint16_t>() & 0x3ffc);
  config.event_idx = (in.take<std::uint8_t>() & 1) != 0;
  // Half the time the queue starts where a vhost-user frontend (SET_VRING_BASE) or a snapshot says:
  // any 16-bit positions.
  const bool restore = (in.take<std::uint8_t>() & 1) != 0;
  const hv::virtio::SplitQueueState state{in.take<std::uint16_t>(), in.take<std::uint16_t>()};
  // Guest memory: the rest of the input, repeated to fill the first 96 KiB (descriptors, rings, tables).
  hvfuzz::fill_repeating(memory.slice(0, 0x18000).value(), in.bytes(0x18000));
  auto queue =
      restore ? hv::virtio::SplitQueue::restore(memory, config, state) : hv::virtio::SplitQueue::create(memory, config);
  if (!queue) return 0;
  if (restore && queue->state() != state) __builtin_trap();  // restored somewhere else
  for (int i = 0; i < 64; ++i) {
    auto chain = queue->pop(memory);
    if (!chain || !*chain) break;
    bool seen_writable = false;
    std::uint64_t total = 0;
    for (const auto& b : (*chain)->buffers) {
      if (!b.device_writable && seen_writable) __builtin_trap();  // readable after writable accepted
      seen_writable = seen_writable || b.device_writable;
      total += b.length;
    }
    if (total > 0xffffffffULL || total != (*chain)->readable_bytes + (*chain)->writable_bytes) __builtin_trap();
    if ((*chain)->buffers.size() > std::size_t{config.size} + hv::virtio::kMaxQueueSize) __builtin_trap();
    // A fuzzed ring may refuse any of these: errors are expected outcomes here, only crashes are findings.
    (void)queue->add_used(memory, (*chain)->head, static_cast<std::uint32_t>((*chain)->writable_bytes));
    (void)queue->should_notify(memory);
  }
  (void)queue->enable_notification(memory);
  return 0;
}
