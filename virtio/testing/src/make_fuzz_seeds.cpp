// Writes seed inputs for the split and packed queue fuzz targets, laid out by the mock drivers: the
// seeds are real rings with direct, indirect and multi-descriptor chains, in the targets' input
// format (configuration bytes, then guest memory from address 0). Run after changing a target's
// input format: make_fuzz_seeds <virtio/fuzz/corpus>
#include <cstdio>
#include <string>
#include <vector>

#include "hv/virtio/testing/mock_packed_driver.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace {

using hv::virtio::testing::BufferSpec;

void save(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

std::vector<std::uint8_t> memory_bytes(const hv::GuestMemory& memory, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  (void)memory.read(0, out);  // the seed's own RAM, created above: it cannot be unmapped
  return out;
}

void append16(std::vector<std::uint8_t>& v, std::uint16_t x) {
  v.push_back(static_cast<std::uint8_t>(x));
  v.push_back(static_cast<std::uint8_t>(x >> 8));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds <corpus directory>\n");
    return 2;
  }
  const std::string dir = argv[1];
  const hv::RegionSpec spec{0, 0x20000};
  auto memory = hv::GuestMemory::create(std::span(&spec, 1));
  if (!memory) return 1;
  const BufferSpec request[] = {{0x8000, 16, false}, {0x8100, 512, false}, {0x9000, 1, true}};
  {  // split: queue of 8 at 0 (descriptors), available ring at 0x10000, used ring at 0x18000
    hv::virtio::testing::MockSplitDriver d(*memory, 0, 8, true, 0x4000);
    d.make_available(d.add_chain(request));
    d.make_available(d.add_indirect_chain(request));
    auto c = d.config();
    // The target reads: size exponent, escape byte, descriptor table, avail and used offsets, event_idx.
    std::vector<std::uint8_t> seed = {3, 0};
    append16(seed, static_cast<std::uint16_t>(c.descriptor_table));
    append16(seed, static_cast<std::uint16_t>(c.available_ring - 0x10000));
    append16(seed, static_cast<std::uint16_t>(c.used_ring - 0x18000));
    seed.push_back(1);
    // The mock driver placed the rings after the table; the target puts them at 0x10000+: move them.
    auto mem = memory_bytes(*memory, 0x18000);
    std::vector<std::uint8_t> image(0x18000, 0);
    std::copy(mem.begin(), mem.begin() + 0x8000, image.begin());
    std::copy(mem.begin() + static_cast<std::ptrdiff_t>(c.available_ring),
              mem.begin() + static_cast<std::ptrdiff_t>(c.available_ring) + 64, image.begin() + 0x10000);
    seed[4] = 0;
    seed[5] = 0;
    seed.insert(seed.end(), image.begin(), image.end());
    save(dir + "/split_queue/mock_driver_chains", seed);
  }
  {  // packed: queue of 8, ring at 0, driver event at 0x18000, device event at 0x1c000
    const hv::RegionSpec spec2{0, 0x20000};
    auto fresh = hv::GuestMemory::create(std::span(&spec2, 1));
    if (!fresh) return 1;
    hv::virtio::testing::MockPackedDriver d(*fresh, 0, 8, true, 0x4000);
    d.add_chain(request, 7);
    d.add_indirect_chain(request, 8);
    std::vector<std::uint8_t> seed = {7, 0, 0, 0, 0, 0, 0, 0, 1};
    auto mem = memory_bytes(*fresh, 0x1c000);
    seed.insert(seed.end(), mem.begin(), mem.end());
    save(dir + "/packed_queue/mock_driver_lists", seed);
  }
  return 0;
}
