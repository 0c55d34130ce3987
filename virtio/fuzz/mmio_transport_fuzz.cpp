// virtio-mmio register access sequences from a fuzzer, at any offset and width, against a device
// that checks the transport keeps its promises: notify() only for a ready queue of an active device,
// activate() only once per reset, with queues that exist. Plus no crash or sanitizer report.
#include <cstring>
#include <memory>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/virtio/mmio_transport.hpp"

namespace {

class CheckingDevice final : public hv::virtio::VirtioDevice {
 public:
  std::uint32_t device_id() const noexcept override { return 2; }
  std::uint64_t features() const noexcept override { return 0x3ff; }
  std::uint16_t queue_count() const noexcept override { return 3; }
  std::uint16_t queue_max_size() const noexcept override { return 256; }
  void read_config(std::uint64_t, std::span<std::uint8_t> data) override {
    std::memset(data.data(), 0x5a, data.size());
  }
  void write_config(std::uint64_t, std::span<const std::uint8_t> data) override {
    if (data.size() > 8) __builtin_trap();
  }
  hv::Result<void> activate(std::shared_ptr<const hv::GuestMemory> memory, std::uint64_t,
                            std::vector<std::pair<std::uint16_t, hv::virtio::Queue>> queues,
                            hv::virtio::DeviceSignals signals) override {
    if (active || !memory) __builtin_trap();  // activated twice without a reset, or without memory
    for (const auto& [index, queue] : queues) {
      if (index >= queue_count()) __builtin_trap();
    }
    active = true;
    notifier = std::move(signals.used_buffers);
    return {};
  }
  void notify(std::uint16_t index) override {
    if (!active || index >= queue_count()) __builtin_trap();
    if (notifier) notifier(index);
  }
  void reset() override { active = false; }
  bool active = false;
  std::function<void(std::uint16_t)> notifier;
};

class Line final : public hv::dev::InterruptLine {
 public:
  void set_level(bool) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto memory = [] {
    const hv::RegionSpec spec{0, 0x10000};
    return std::make_shared<const hv::GuestMemory>(std::move(*hv::GuestMemory::create(std::span(&spec, 1))));
  }();
  hvfuzz::FuzzInput in(data, size);
  auto device = std::make_shared<CheckingDevice>();
  hv::virtio::MmioTransport transport(memory, device, std::make_shared<Line>());
  for (int i = 0; i < 256 && !in.empty(); ++i) {
    const std::uint8_t op = in.take<std::uint8_t>();
    // Mostly the 32-bit registers, sometimes anywhere in the window at any width.
    const std::uint64_t offset = (op & 0x80) != 0 ? in.take<std::uint16_t>() % hv::virtio::kMmioWindowSize
                                                  : (in.take<std::uint8_t>() % 0x44) * 4ULL;
    static constexpr std::size_t kWidths[] = {4, 4, 4, 1, 2, 8};
    const std::size_t width = kWidths[(op >> 4) % 6];
    std::uint8_t bytes[8] = {};
    if ((op & 1) != 0) {
      const auto value = in.bytes(width);
      std::memcpy(bytes, value.data(), value.size());
      transport.write(offset, std::span<const std::uint8_t>(bytes, width));
    } else {
      transport.read(offset, std::span(bytes, width));
    }
  }
  return 0;
}
