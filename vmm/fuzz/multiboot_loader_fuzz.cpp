// The Multiboot loader on arbitrary kernels, modules and command lines: headers anywhere in the first
// 8 KiB, ELF32 headers and program tables, module sizes and strings. Nothing may be written outside
// guest RAM (GuestMemory checks, ASan verifies), and a kernel that loads must lie in RAM with its entry
// inside it and its information block where the loader says.
#include "fuzz_input.hpp"
#include "hv/vmm/multiboot_loader.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::uint64_t kRam = 0x500000;
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec ram[] = {{0, 0x400000}, {0x400000, 0x100000}};  // two adjacent regions
    return std::move(*hv::GuestMemory::create(ram));
  }();
  hvfuzz::FuzzInput in(data, size);
  // The first bytes choose the modules and the command line; the rest is the kernel.
  const auto module_count = static_cast<std::size_t>(in.take<std::uint8_t>() % 20);
  const auto module_size = static_cast<std::size_t>(in.take<std::uint16_t>());
  const auto cmdline_size = static_cast<std::size_t>(in.take<std::uint16_t>() % 5000);
  const auto text = in.bytes(64);
  const auto kernel = in.bytes(size);
  static const std::vector<std::uint8_t> module_bytes(0x10000, 0xcc);
  const std::string cmdline(cmdline_size, text.empty() ? 'x' : static_cast<char>(text[0]));
  const std::string module_string(text.begin(), text.end());
  std::vector<hv::vmm::MultibootModule> modules(
      module_count, {std::span(module_bytes).first(module_size % module_bytes.size()), module_string});
  if (auto boot = hv::vmm::load_multiboot(memory, kRam, kernel, cmdline, modules)) {
    if (boot->image.lowest > boot->image.highest || boot->image.highest >= kRam || boot->image.entry >= kRam ||
        boot->info != hv::vmm::kMultibootInfoBase || boot->modules_end > kRam) {
      __builtin_trap();
    }
  }
  (void)hv::vmm::plan_multiboot(kernel);
  return 0;
}
