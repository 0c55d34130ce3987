// The packed virtqueue on driver memory a fuzzer writes (descriptor ring, indirect tables, event
// suppression) and a fuzzer-chosen configuration. Invariants: no crash or out-of-bounds access, every
// accepted list well-formed (readable before writable, under 4 GiB, 1..size ring slots), bounded work.
#include <cstring>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/virtio/packed_queue.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec spec{0, 0x20000};
    return std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }();
  hv::virtio::PackedQueueConfig config;
  config.size = static_cast<std::uint16_t>(in.take<std::uint8_t>() % 64 + 1);
  if (in.take<std::uint8_t>() == 0xff) config.size = in.take<std::uint16_t>();
  config.descriptor_ring = in.take<std::uint16_t>() & ~0xfULL;
  config.driver_event = 0x18000 + (in.take<std::uint16_t>() & 0x3ffc);
  config.device_event = 0x1c000 + (in.take<std::uint16_t>() & 0x3ffc);
  config.event_idx = (in.take<std::uint8_t>() & 1) != 0;
  // Half the time the queue starts where a vhost-user frontend (SET_VRING_BASE) or a snapshot says:
  // positions and wrap counters as given, refused when outside the ring.
  const bool restore = (in.take<std::uint8_t>() & 1) != 0;
  const auto wraps = in.take<std::uint8_t>();
  const hv::virtio::PackedQueueState state{in.take<std::uint16_t>(), (wraps & 1) != 0, in.take<std::uint16_t>(),
                                           (wraps & 2) != 0};
  hvfuzz::fill_repeating(memory.slice(0, 0x1c000).value(), in.bytes(0x1c000));
  auto queue = restore ? hv::virtio::PackedQueue::restore(memory, config, state)
                       : hv::virtio::PackedQueue::create(memory, config);
  if (restore && hv::virtio::PackedQueue::create(memory, config)) {
    const bool inside = state.next_avail < config.size && state.next_used < config.size;
    if (queue.has_value() != inside) __builtin_trap();  // a position outside the ring accepted, or one inside refused
    if (queue && queue->state() != state) __builtin_trap();
  }
  if (!queue) return 0;
  for (int i = 0; i < 64; ++i) {
    auto chain = queue->pop(memory);
    if (!chain || !*chain) break;
    bool seen_writable = false;
    std::uint64_t total = 0;
    for (const auto& b : (*chain)->buffers) {
      if (!b.device_writable && seen_writable) __builtin_trap();
      seen_writable = seen_writable || b.device_writable;
      total += b.length;
    }
    if (total > 0xffffffffULL || total != (*chain)->readable_bytes + (*chain)->writable_bytes) __builtin_trap();
    if ((*chain)->ring_slots == 0 || (*chain)->ring_slots > config.size) __builtin_trap();
    if (!queue->add_used(memory, (*chain)->head, static_cast<std::uint32_t>((*chain)->writable_bytes),
                         (*chain)->ring_slots))
      __builtin_trap();
    (void)queue->should_notify(memory);  // fuzzed rings may refuse: errors are expected, crashes are findings
  }
  (void)queue->enable_notification(memory);
  return 0;
}
