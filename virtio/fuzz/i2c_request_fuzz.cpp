// virtio-i2c requests, twice over. First the request parser on a chain the fuzzer describes (any
// buffers, lengths, directions, addresses mostly inside a 64 KiB guest RAM, header bytes from the
// input): a request it calls valid has one data direction, at most kI2cMaxMessageBytes of data and an
// address at most kI2cMaxAddress, and its length matches the chain's streams. Then the whole device
// over a mock-driver ring (split or packed, 4 to 64 entries) and a bus that fails where the input
// says: requests with fuzzed headers, framings and FAIL_NEXT flags, notifies, stop and reactivation,
// reset. Invariants: no crash or sanitizer report, and the bus only ever gets well-formed
// transactions (at most kI2cMaxTransactionMessages messages, each with a valid address and length).
#include <cstring>
#include <memory>
#include <optional>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "../src/i2c_request.hpp"
#include "../tests/i2c_test_support.hpp"
#include "hv/virtio/chain_io.hpp"
#include "hv/virtio/i2c.hpp"

namespace {

using hv::dev::kI2cMaxAddress;
using hv::dev::kI2cMaxMessageBytes;
using hv::dev::kI2cMaxTransactionMessages;

void check_parser(hvfuzz::FuzzInput& in) {
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec spec{0, 0x10000};
    return std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }();
  hv::virtio::DescriptorChain chain;
  const unsigned count = in.take<std::uint8_t>() % 8;
  for (unsigned i = 0; i < count; ++i) {
    hv::virtio::Buffer b;
    const std::uint8_t kind = in.take<std::uint8_t>();
    b.address = (kind & 0x80) != 0 ? in.take<std::uint64_t>() : in.take<std::uint16_t>();
    b.length = (kind & 0x40) != 0 ? in.take<std::uint32_t>() : in.take<std::uint16_t>() % 9000;
    b.device_writable = (kind & 1) != 0;
    (b.device_writable ? chain.writable_bytes : chain.readable_bytes) += b.length;
    chain.buffers.push_back(b);
  }
  hvfuzz::fill_repeating(memory.slice(0, 0x10000).value(), in.bytes(64));
  hv::virtio::ChainIo io(memory, chain);
  const auto request = hv::virtio::detail::parse_i2c_request(io);
  if (request.shape != hv::virtio::detail::I2cRequestShape::Valid) return;
  if (request.address > kI2cMaxAddress || request.length > kI2cMaxMessageBytes) __builtin_trap();
  const std::uint64_t expected = request.read ? chain.writable_bytes - 1 : chain.readable_bytes - 8;
  if (request.length != expected) __builtin_trap();
  if (request.read ? chain.readable_bytes != 8 : chain.writable_bytes != 1) __builtin_trap();
}

// A bus that checks what the device gives it and fails where the input says.
class CheckingBus final : public hv::dev::I2cBus {
 public:
  explicit CheckingBus(hvfuzz::FuzzInput& in) : in_(in) {}
  [[nodiscard]] bool serves(std::uint8_t address) const override { return address != 0x33; }
  std::size_t transfer(std::span<const hv::dev::I2cMessage> messages) override {
    if (messages.empty() || messages.size() > kI2cMaxTransactionMessages) __builtin_trap();
    for (const auto& m : messages) {
      if (m.address > kI2cMaxAddress || m.address == 0x33 || m.data.size() > kI2cMaxMessageBytes) __builtin_trap();
      if (m.data.data() == nullptr) __builtin_trap();  // the device gives even a probe real storage
      if (m.read) std::memset(m.data.data(), 0xa5, m.data.size());
    }
    const std::uint8_t outcome = in_.take<std::uint8_t>();
    return outcome < 0xc0 ? messages.size() : outcome % (messages.size() + 1);
  }

 private:
  hvfuzz::FuzzInput& in_;
};

// One request with fuzzed header fields, data lengths and framing.
hvtest::Request make_request(hvfuzz::FuzzInput& in, hvtest::I2cRing& ring) {
  const std::uint8_t shape = in.take<std::uint8_t>();
  std::uint16_t addr = in.take<std::uint16_t>();
  std::uint32_t flags = in.take<std::uint32_t>();
  if ((shape & 1) == 0) addr = static_cast<std::uint16_t>((addr % 0x80) << 1);  // mostly valid fields
  if ((shape & 2) == 0) flags &= 3;
  const bool read = (flags & hv::virtio::kI2cFlagRead) != 0;
  const std::uint32_t length = in.take<std::uint16_t>() % (kI2cMaxMessageBytes + 8);
  std::uint32_t header_bytes = 8, readable_data = read ? 0 : length, writable = (read ? length : 0) + 1;
  if ((shape & 4) != 0) {  // off the rules: any lengths
    header_bytes = in.take<std::uint8_t>() % 12;
    readable_data = in.take<std::uint8_t>() % 16;
    writable = in.take<std::uint8_t>() % 16;
  }
  hvtest::Request r;
  const std::uint64_t header = ring.header(addr, flags);
  const std::uint64_t out = ring.alloc(readable_data);
  const std::uint64_t in_bytes = ring.alloc(writable);
  // Each stream in one or two buffers, split where the input says.
  const auto push = [&](std::uint64_t at, std::uint32_t n, bool writable_buffer) {
    if (n == 0) return;
    const std::uint32_t cut = (shape & 8) != 0 ? in.take<std::uint8_t>() % n : 0;
    if (cut > 0) r.buffers.push_back({at, cut, writable_buffer});
    r.buffers.push_back({at + cut, n - cut, writable_buffer});
  };
  push(header, header_bytes, false);
  push(out, readable_data, false);
  push(in_bytes, writable, true);
  return r;
}

void check_device(hvfuzz::FuzzInput& in) {
  static std::shared_ptr<hv::GuestMemory> memory = [] {
    const hv::RegionSpec spec{0, 0x400000};
    return std::make_shared<hv::GuestMemory>(std::move(*hv::GuestMemory::create(std::span(&spec, 1))));
  }();
  const bool packed = (in.take<std::uint8_t>() & 1) != 0;
  const std::uint16_t size = static_cast<std::uint16_t>(4U << (in.take<std::uint8_t>() % 5));  // 4..64
  auto bus = std::make_shared<CheckingBus>(in);
  hv::virtio::I2cDevice device(bus);
  std::optional<hvtest::I2cRing> ring(std::in_place, *memory, packed, size);
  if (!device.activate(memory, hv::virtio::kI2cFeatureZeroLengthRequest, ring->queues(), {})) __builtin_trap();
  unsigned outstanding = 0;  // chains added since the last notify: the mock driver does not track room
  for (int op = 0; op < 48 && !in.empty(); ++op) {
    const std::uint8_t what = in.take<std::uint8_t>() % 8;
    if (what < 5) {
      if (outstanding >= size / 4U) continue;  // keep within the ring: a full mock ring is no driver
      ring->add(make_request(in, *ring), (what & 1) != 0);
      ++outstanding;
    } else if (what == 5) {
      device.notify(0);
      outstanding = 0;
    } else if (what == 6) {
      auto stopped = device.stop();
      if (!stopped) __builtin_trap();
      if (!stopped->empty() &&
          !device.activate(memory, hv::virtio::kI2cFeatureZeroLengthRequest, std::move(*stopped), {}))
        __builtin_trap();
    } else {
      device.reset();
      ring.emplace(*memory, packed, size);
      outstanding = 0;
      if (!device.activate(memory, hv::virtio::kI2cFeatureZeroLengthRequest, ring->queues(), {})) __builtin_trap();
    }
  }
  device.notify(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  if ((in.take<std::uint8_t>() & 1) != 0) {
    check_parser(in);
  } else {
    check_device(in);
  }
  return 0;
}
