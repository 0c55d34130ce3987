// The Linux loader on arbitrary kernels (issue #21): the PVH note walk, the bzImage setup header, the
// layout checks and every write. The input is the kernel; the initrd size, the command-line length and
// the vCPU count follow from its size, so the seeds are plain kernels. Nothing may be written outside
// guest RAM (GuestMemory checks, ASan verifies), and an accepted plan must keep its own promises.
#include <string>

#include "hv/vmm/linux_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::uint64_t kRam = 32ULL << 20;
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec ram[] = {{0, kRam}};
    return std::move(*hv::GuestMemory::create(ram));
  }();
  const auto vcpus = static_cast<std::uint32_t>(1 + size % 4);
  const std::uint64_t initrd_size = size % 3 == 0 ? 0 : (size * 37) % 0x10000;
  const std::string cmdline(size % 300, 'x');
  hv::vmm::LinuxBoot boot{.kernel = std::vector<std::uint8_t>(data, data + size),
                          .initrd = std::vector<std::uint8_t>(initrd_size, 0x5a)};
  auto plan = hv::vmm::plan_linux_boot(boot.kernel, initrd_size, cmdline, kRam, vcpus);
  if (plan) {
    const bool kernel_ok = plan->kernel_start >= hv::vmm::kLinuxKernelFloor && plan->kernel_end <= kRam &&
                           plan->kernel_start < plan->kernel_end;
    const bool initrd_ok =
        initrd_size == 0 || (plan->initrd_address >= plan->kernel_end && plan->initrd_address + initrd_size <= kRam);
    const bool cmdline_ok = cmdline.size() <= plan->max_cmdline;
    if (!kernel_ok || !initrd_ok || !cmdline_ok) __builtin_trap();
  }
  auto entry = hv::vmm::load_linux(memory, boot, cmdline, kRam, vcpus);
  if (entry.has_value() != plan.has_value()) __builtin_trap();  // the plan decides, the writes follow it
  return 0;
}
