// The split virtqueue with the shapes of rust-vmm's virtio-queue benchmarks (one 128-descriptor
// chain; 128 one-descriptor chains; 128 add_used), direct and through indirect tables. Each hvkit
// figure is paired with a baseline in the same run that does the same guest-memory reads or writes
// with no validation at all ("raw"): the difference is what hvkit's checks cost.
#include <benchmark/benchmark.h>

#include <vector>

#include "hv/virtio/packed_queue.hpp"
#include "hv/virtio/split_queue.hpp"
#include "hv/virtio/testing/mock_packed_driver.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"
#include "paired_reporter.hpp"

namespace {

using hv::virtio::SplitQueue;
using hv::virtio::testing::BufferSpec;
using hv::virtio::testing::MockPackedDriver;
using hv::virtio::testing::MockSplitDriver;

constexpr std::uint16_t kQueueSize = 256;
constexpr std::uint64_t kRings = 0x10000, kIndirect = 0x40000, kData = 0x100000;

const hv::GuestMemory& memory() {
  static const hv::GuestMemory m = [] {
    const hv::RegionSpec spec{0, 0x200000};
    return std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }();
  return m;
}

struct RawDescriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags, next;
};

std::vector<BufferSpec> buffers(std::size_t n) {
  std::vector<BufferSpec> b;
  for (std::size_t i = 0; i < n; ++i) b.push_back({kData + 64 * i, 64, i >= n / 2});
  return b;
}

// Lays out `chains` chains of `length` buffers (direct or indirect) and makes them available.
MockSplitDriver layout(std::size_t chains, std::size_t length, bool indirect) {
  MockSplitDriver d(memory(), kRings, kQueueSize, false, kIndirect);
  const auto b = buffers(length);
  for (std::size_t i = 0; i < chains; ++i) d.make_available(indirect ? d.add_indirect_chain(b) : d.add_chain(b));
  return d;
}

// Creates the queue (its checks included) over the driver's rings and pops all `chains` chains.
template <class QueueType, class Driver>
void pop_each(benchmark::State& state, const Driver& driver, std::size_t chains) {
  const hv::GuestMemory& mem = memory();  // the queue's owner passes it to each call
  hv::virtio::DescriptorChain chain;      // a device pops into one chain object per queue
  for (auto _ : state) {
    auto q = QueueType::create(mem, driver.config());
    for (std::size_t i = 0; i < chains; ++i) {
      auto taken = q->pop_into(mem, chain);
      if (!taken || !*taken) {
        state.SkipWithError("pop failed");
        return;
      }
      benchmark::DoNotOptimize(chain);
    }
  }
}

void pop_all(benchmark::State& state, std::size_t chains, std::size_t length, bool indirect) {
  pop_each<SplitQueue>(state, layout(chains, length, indirect), chains);
}

// The same reads with no checks: avail index, each head, each descriptor (following next, or the
// indirect table), into a plain vector.
void raw_walk(benchmark::State& state, std::size_t chains, std::size_t length, bool indirect) {
  const auto d = layout(chains, length, indirect);
  const auto c = d.config();
  std::vector<std::uint64_t> seen;  // reused, as the device side reuses its chain
  for (auto _ : state) {
    const auto avail = memory().read_obj<std::uint16_t>(c.available_ring + 2).value();
    benchmark::DoNotOptimize(avail);
    for (std::size_t i = 0; i < chains; ++i) {
      seen.clear();
      std::uint64_t table = c.descriptor_table;
      std::uint16_t index = memory().read_obj<std::uint16_t>(c.available_ring + 4 + 2 * i).value();
      for (;;) {
        // One 16-byte read per descriptor, as hvkit does.
        const auto desc = memory().read_obj<RawDescriptor>(table + 16ULL * index).value();
        if ((desc.flags & 4) != 0) {
          table = desc.addr;
          index = 0;
          continue;
        }
        seen.push_back(desc.addr + desc.len);
        if ((desc.flags & 1) == 0) break;
        index = desc.next;
      }
      benchmark::DoNotOptimize(seen);
    }
  }
}

MockPackedDriver packed_layout(std::size_t chains, std::size_t length, bool indirect) {
  MockPackedDriver d(memory(), kRings, kQueueSize, false, kIndirect);
  const auto b = buffers(length);
  for (std::size_t i = 0; i < chains; ++i) {
    const auto id = static_cast<std::uint16_t>(i);
    indirect ? d.add_indirect_chain(b, id) : d.add_chain(b, id);
  }
  return d;
}

void packed_pop_all(benchmark::State& state, std::size_t chains, std::size_t length, bool indirect) {
  pop_each<hv::virtio::PackedQueue>(state, packed_layout(chains, length, indirect), chains);
}

// The same descriptor reads in ring order with no checks.
void packed_raw_walk(benchmark::State& state, std::size_t chains, std::size_t length, bool indirect) {
  const auto d = packed_layout(chains, length, indirect);
  const auto c = d.config();
  std::vector<std::uint64_t> seen;  // reused, as the device side reuses its chain
  for (auto _ : state) {
    std::uint64_t slot = 0;
    for (std::size_t i = 0; i < chains; ++i) {
      seen.clear();
      for (;;) {
        const auto desc = memory().read_obj<RawDescriptor>(c.descriptor_ring + 16 * slot++).value();
        if ((desc.next & 4) != 0) {  // packed: the flags are the last u16
          for (std::uint64_t e = 0; e < desc.len / 16; ++e) {
            const auto entry = memory().read_obj<RawDescriptor>(desc.addr + 16 * e).value();
            seen.push_back(entry.addr + entry.len);
          }
          break;
        }
        seen.push_back(desc.addr + desc.len);
        if ((desc.next & 1) == 0) break;
      }
      benchmark::DoNotOptimize(seen);
    }
  }
}

void add_used(benchmark::State& state) {
  const auto d = layout(0, 1, false);
  const hv::GuestMemory& mem = memory();
  for (auto _ : state) {
    auto q = SplitQueue::create(mem, d.config());
    for (std::uint16_t i = 0; i < 128; ++i) benchmark::DoNotOptimize(q->add_used(mem, i, 64));
  }
}

void raw_add_used(benchmark::State& state) {
  const auto c = layout(0, 1, false).config();
  for (auto _ : state) {
    for (std::uint16_t i = 0; i < 128; ++i) {
      const std::uint32_t element[2] = {i, 64};
      benchmark::DoNotOptimize(memory().write_obj(c.used_ring + 4 + 8ULL * i, element));
      benchmark::DoNotOptimize(memory().write_obj<std::uint16_t>(c.used_ring + 2, static_cast<std::uint16_t>(i + 1)));
    }
  }
}

void register_all() {
  struct Shape {
    const char* name;
    std::size_t chains, length;
    bool indirect;
  };
  const Shape shapes[] = {{"split/one_chain_128_descriptors", 1, 128, false},
                          {"split/128_one_descriptor_chains", 128, 1, false},
                          {"split_indirect/one_chain_128_descriptors", 1, 128, true},
                          {"split_indirect/128_one_descriptor_chains", 128, 1, true}};
  for (const auto& s : shapes) {
    benchmark::RegisterBenchmark((std::string(s.name) + "/raw").c_str(), raw_walk, s.chains, s.length, s.indirect)
        ->Repetitions(3);
    benchmark::RegisterBenchmark((std::string(s.name) + "/hvkit").c_str(), pop_all, s.chains, s.length, s.indirect)
        ->Repetitions(3);
  }
  const Shape packed[] = {{"packed/one_chain_128_descriptors", 1, 128, false},
                          {"packed/128_one_descriptor_chains", 128, 1, false},
                          {"packed_indirect/one_chain_128_descriptors", 1, 128, true},
                          {"packed_indirect/128_one_descriptor_chains", 128, 1, true}};
  for (const auto& s : packed) {
    benchmark::RegisterBenchmark((std::string(s.name) + "/raw").c_str(), packed_raw_walk, s.chains, s.length,
                                 s.indirect)
        ->Repetitions(3);
    benchmark::RegisterBenchmark((std::string(s.name) + "/hvkit").c_str(), packed_pop_all, s.chains, s.length,
                                 s.indirect)
        ->Repetitions(3);
  }
  benchmark::RegisterBenchmark("split/128_add_used/raw", raw_add_used)->Repetitions(3);
  benchmark::RegisterBenchmark("split/128_add_used/hvkit", add_used)->Repetitions(3);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hvbench::PairedReporter reporter("raw", "iteration");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
