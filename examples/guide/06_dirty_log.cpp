// docs/guide.md, "Dirty logging": the log of a memory slot holds the pages the guest wrote and the
// pages a device wrote through the Vm's memory(), since the previous fetch.
// Usage: guide_06_dirty_log [BACKEND]
// Exit status: 0 when the log held exactly the guest's two pages and the device's one, and the fetch
// cleared it; 77 when BACKEND is not available here or has no dirty logging; 1 otherwise.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <variant>
#include <vector>

#include <hv/x86_boot.hpp>

#include "example.hpp"

namespace {

using guide::expect;
using guide::must;

class NoDevices final : public hv::IoHandler {
 public:
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override {}
  void pio_write(std::uint16_t, std::span<const std::uint8_t>) noexcept override {}
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
};

}  // namespace

int main(int argc, char** argv) {
  auto hypervisor = guide::open_backend(argc, argv);
  if (auto dirty_log = hypervisor->capability(hv::Capability::DirtyLog); !dirty_log) {
    std::printf("skipped: %s\n", dirty_log.error().to_string().c_str());
    return 77;
  }
  auto vm = must(hypervisor->create_vm(), "create_vm");
  auto low = must(hv::GuestRegion::create(0, 0x10000), "create RAM for the code");
  // Real mode at 0x1000: write a byte at 0x21000 and at 0x25000, halt.
  constexpr std::array<std::uint8_t, 16> code = {
      0xB8, 0x00, 0x20,              // mov ax, 0x2000
      0x8E, 0xD8,                    // mov ds, ax
      0xC6, 0x06, 0x00, 0x10, 0x01,  // mov byte [0x1000], 1
      0xC6, 0x06, 0x00, 0x50, 0x01,  // mov byte [0x5000], 1
      0xF4,                          // hlt
  };
  std::copy(code.begin(), code.end(), low->host().begin() + 0x1000);
  must(vm->map_memory(low), "map RAM for the code");

  // [guide:dirty_log]
  auto region = must(hv::GuestRegion::create(0x20000, 16 * hv::kPageSize), "create RAM");
  const hv::MemorySlot slot = must(vm->map_memory(region), "map RAM");
  must(vm->enable_dirty_log(slot), "enable_dirty_log");  // or map_memory(region, {.log_dirty = true})

  auto vcpu = must(vm->create_vcpu(0), "create_vcpu");
  must(hv::x86::enter_real_mode(*vcpu, 0x1000, 0x8000), "enter real mode");
  NoDevices no_devices;
  const hv::Exit exit = must(vcpu->run(no_devices), "run");  // the guest writes 0x21000 and 0x25000
  expect(std::holds_alternative<hv::HaltExit>(exit), "the guest halted");
  // A device (a virtio used ring, a disk read) writes guest RAM through the Vm's memory().
  must(vm->memory()->write_obj<std::uint32_t>(0x2a010, 0xfeed), "device write");

  const hv::DirtyBitmap log = must(vm->fetch_and_clear_dirty_log(slot), "fetch_and_clear_dirty_log");
  const std::vector<std::uint64_t> dirty = log.dirty_addresses();  // guest-physical page addresses
  expect(dirty == std::vector<std::uint64_t>{0x21000, 0x25000, 0x2a000}, "the guest's two pages and the device's");
  // [/guide:dirty_log]
  for (const std::uint64_t page : dirty) std::printf("dirty: 0x%llx\n", static_cast<unsigned long long>(page));

  const auto again = must(vm->fetch_and_clear_dirty_log(slot), "fetch_and_clear_dirty_log");
  expect(again.dirty_addresses().empty(), "a fetch clears the log");
  must(vm->disable_dirty_log(slot), "disable_dirty_log");
  std::printf("ok\n");
  return 0;
}
