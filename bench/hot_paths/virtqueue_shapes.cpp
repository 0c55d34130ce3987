// The split virtqueue, device side, queue size 256, with the rings laid out as rust-vmm's mock
// driver (virtio-queue 0.7.1, MockSplitQueue::new(mem, 256)) lays them out: descriptor table at 0,
// available ring at 0x1000, used ring at 0x1208; every descriptor points at 0x1000 with length
// 0x1000, device-readable. Like the mock, every chain starts at descriptor 0 (the mock reuses its
// free descriptors), and an indirect chain's head names a table in the 1 MiB region at 0x3000_0000
// (the mock rounds each table up to 16 entries and points every head at the last table it wrote).
// Each iteration creates the queue from that configuration, with all of its checks (rust-vmm: the
// setters plus is_valid), and then takes every chain and visits every buffer.
#include <array>
#include <cstdlib>

#include "guest_layout.hpp"
#include "hv/virtio/split_queue.hpp"
#include "shape_registry.hpp"

namespace hvbench {

namespace {

using hv::virtio::SplitQueue;
using hv::virtio::SplitQueueConfig;

constexpr std::uint16_t kQueueSize = 256;
constexpr std::uint16_t kNext = 1, kIndirect = 4;
constexpr SplitQueueConfig kConfig{
    .size = kQueueSize, .descriptor_table = 0, .available_ring = 0x1000, .used_ring = 0x1208, .event_idx = false};

struct RawDescriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags, next;
};

void put_descriptor(const hv::GuestMemory& memory, std::uint64_t table, std::uint16_t index, std::uint16_t flags,
                    std::uint16_t next, std::uint64_t addr = 0x1000, std::uint32_t len = 0x1000) {
  if (!memory.write_obj(table + 16ULL * index, RawDescriptor{addr, len, flags, next})) std::abort();
}

// Writes a chain of `length` descriptors starting at index 0 of `table`.
void put_chain(const hv::GuestMemory& memory, std::uint64_t table, std::uint16_t length) {
  for (std::uint16_t i = 0; i < length; ++i) {
    const bool last = i + 1 == length;
    put_descriptor(memory, table, i, last ? 0 : kNext, last ? 0 : static_cast<std::uint16_t>(i + 1));
  }
}

// Makes `chains` chains of `length` descriptors available, direct or through indirect tables.
void lay_out(const hv::GuestMemory& memory, std::uint16_t chains, std::uint16_t length, bool indirect) {
  std::uint64_t next_table = kIndirectBase;
  for (std::uint16_t c = 0; c < chains; ++c) {
    if (indirect) {
      put_chain(memory, next_table, length);
      put_descriptor(memory, kConfig.descriptor_table, 0, kIndirect, 0, next_table, 16U * length);
      next_table += 16ULL * ((length + 15) / 16 * 16);
    } else {
      put_chain(memory, kConfig.descriptor_table, length);
    }
    if (!memory.write_obj<std::uint16_t>(kConfig.available_ring + 4 + 2ULL * c, 0)) std::abort();
  }
  if (!memory.write_obj<std::uint16_t>(kConfig.available_ring + 2, chains)) std::abort();
}

void add_walk(const char* name, std::uint16_t chains, std::uint16_t length, bool indirect) {
  add_shape(name, 128, "desc", [=] {
    auto memory = indirect ? two_regions() : one_region();
    lay_out(*memory, chains, length, indirect);
    // A device keeps one chain object per queue and pops into it (SplitQueue::pop_into).
    return [memory, chains, length, chain = hv::virtio::DescriptorChain{}]() mutable {
      const hv::GuestMemory& mem = *memory;
      auto queue = SplitQueue::create(mem, kConfig);
      if (!queue) std::abort();
      std::size_t seen_chains = 0, seen_buffers = 0;
      for (;;) {
        auto taken = queue->pop_into(mem, chain);
        if (!taken) std::abort();
        if (!*taken) break;
        ++seen_chains;
        std::uint64_t sum = 0;
        for (const auto& buffer : chain.buffers) {
          ++seen_buffers;
          sum += buffer.address + buffer.length;
        }
        black_box(sum);
      }
      if (seen_chains != chains || seen_buffers != std::size_t{chains} * length) std::abort();
    };
  });
}

}  // namespace

void add_virtqueue_shapes() {
  add_walk("vq/split/one_chain_128_desc", 1, 128, false);
  add_walk("vq/split/128_one_desc_chains", 128, 1, false);
  add_walk("vq/split_indirect/one_chain_128_desc", 1, 128, true);
  add_walk("vq/split_indirect/128_one_desc_chains", 128, 1, true);
  add_shape("vq/split/128_add_used", 128, "elem", [] {
    return [memory = one_region()] {
      const hv::GuestMemory& mem = *memory;
      auto queue = SplitQueue::create(mem, kConfig);
      if (!queue) std::abort();
      for (int i = 0; i < 128; ++i) {
        std::uint16_t head = 123;  // through black_box, as on the peer's side: no constant folding
        std::uint32_t written = 0x1000;
        black_box(head);
        black_box(written);
        if (!queue->add_used(mem, head, written)) std::abort();
      }
      black_box(*queue);
    };
  });
  add_shape("vq/create_queue_only", 1, "queue", [] {
    return [memory = one_region()] {
      auto queue = SplitQueue::create(*memory, kConfig);
      if (!queue) std::abort();
      black_box(*queue);
    };
  });
}

}  // namespace hvbench
