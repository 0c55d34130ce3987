#include "hv/vmm/linux_loader.hpp"

#include <algorithm>
#include <string>

#include "hv/vmm/e820.hpp"
#include "hv/vmm/image_loader.hpp"
#include "hv/vmm/linux_bzimage.hpp"
#include "hv/vmm/linux_pvh.hpp"
#include "hv/vmm/mp_table.hpp"
#include "hv/x86_boot.hpp"

namespace hv::vmm {

namespace {

constexpr const char* kOp = "plan_linux_boot";
constexpr std::uint64_t kFourGiB = 4ULL << 30;

tl::unexpected<Error> out_of_range(const std::string& why) { return fail(ErrorKind::OutOfRange, kOp, why); }

// The kernel's footprint, entry and command-line limit by its format.
Result<LinuxPlan> plan_kernel(std::span<const std::uint8_t> kernel) {
  LinuxPlan plan;
  if (looks_like_elf(kernel)) {
    auto elf = plan_elf64(kernel);
    if (!elf) return tl::unexpected(elf.error());
    auto entry = find_pvh_entry(kernel);
    if (!entry) return tl::unexpected(entry.error());
    plan.protocol = LinuxEntryProtocol::Pvh;
    plan.entry = *entry;
    plan.kernel_start = elf->lowest;
    plan.kernel_end = elf->highest + 1;  // highest < 2^64 - 1: AddressRange checked the segments
    plan.max_cmdline = kPvhMaxCmdline;
    if (plan.entry < plan.kernel_start || plan.entry >= plan.kernel_end) {
      return fail(ErrorKind::InvalidArgument, kOp,
                  "the PVH entry " + hex(plan.entry) + " is outside the kernel's segments");
    }
    return plan;
  }
  if (looks_like_bzimage(kernel)) {
    auto header = parse_bzimage(kernel);
    if (!header) return tl::unexpected(header.error());
    plan.protocol = LinuxEntryProtocol::BzImage64;
    plan.kernel_start = header->load_address;
    if (header->init_size > kLinuxMaxRam || header->load_address > kLinuxMaxRam) {
      return out_of_range("the bzImage's pref_address " + hex(header->load_address) + " and init_size " +
                          hex(header->init_size) + " are beyond any RAM hvkit gives a Linux guest");
    }
    plan.kernel_end = header->load_address + header->init_size;
    plan.entry = header->load_address + kBzImage64EntryOffset;
    plan.max_cmdline = std::min<std::size_t>(header->cmdline_size, kLinuxCmdlineArea - 1);
    return plan;
  }
  return fail(ErrorKind::InvalidArgument, kOp,
              "the kernel is neither an ELF64 vmlinux nor a bzImage (no \"HdrS\" setup header)");
}

}  // namespace

Result<LinuxPlan> plan_linux_boot(std::span<const std::uint8_t> kernel, std::uint64_t initrd_size,
                                  std::string_view cmdline, std::uint64_t ram_bytes, std::uint32_t vcpus) {
  if (vcpus == 0 || vcpus > kLinuxMaxVcpus) {
    return fail(ErrorKind::InvalidArgument, kOp, "a Linux guest takes 1 to 254 vCPUs (APIC ids below 255)");
  }
  if (ram_bytes <= kLinuxKernelFloor || ram_bytes > kLinuxMaxRam) {
    return out_of_range("RAM must be more than 1 MiB and end at or below " + hex(kLinuxMaxRam) +
                        " (hvkit maps it as one region from 0: no PCI hole below 4 GiB): RAM ends at " +
                        hex(ram_bytes));
  }
  auto plan = plan_kernel(kernel);
  if (!plan) return tl::unexpected(plan.error());
  const std::string kernel_range = hex(plan->kernel_start) + " to " + hex(plan->kernel_end);
  if (plan->kernel_start < kLinuxKernelFloor) {
    return out_of_range("the kernel (" + kernel_range + ") starts below 1 MiB, over the boot data and the MP table");
  }
  if (plan->kernel_end > ram_bytes) {
    return out_of_range("the kernel (" + kernel_range + ") does not fit in RAM, which ends at " + hex(ram_bytes));
  }
  if (cmdline.find('\0') != std::string_view::npos) {
    return fail(ErrorKind::InvalidArgument, kOp, "the command line contains a NUL byte");
  }
  if (cmdline.size() > plan->max_cmdline) {
    return fail(ErrorKind::InvalidArgument, kOp,
                "the command line is " + std::to_string(cmdline.size()) + " bytes; this kernel takes at most " +
                    std::to_string(plan->max_cmdline));
  }
  if (initrd_size > 0) {
    // At the top of RAM, below 4 GiB and below the kernel's initrd_addr_max, page-aligned.
    std::uint64_t limit = std::min(ram_bytes, kFourGiB);
    if (plan->protocol == LinuxEntryProtocol::BzImage64) {
      auto header = parse_bzimage(kernel);  // accepted above
      if (header) limit = std::min<std::uint64_t>(limit, std::uint64_t{header->initrd_addr_max} + 1);
    }
    const std::uint64_t kernel_top = (plan->kernel_end + kPageSize - 1) & ~(kPageSize - 1);
    if (initrd_size > limit || ((limit - initrd_size) & ~(kPageSize - 1)) < kernel_top) {
      return out_of_range("the initrd (" + std::to_string(initrd_size) +
                          " bytes) does not fit between the kernel's end " + hex(plan->kernel_end) + " and " +
                          hex(limit) + " (the end of RAM, 4 GiB or the kernel's initrd_addr_max)");
    }
    plan->initrd_address = (limit - initrd_size) & ~(kPageSize - 1);
    plan->initrd_size = initrd_size;
  }
  return plan;
}

Result<LinuxEntry> load_linux(const GuestMemory& memory, const LinuxBoot& boot, std::string_view cmdline,
                              std::uint64_t ram_bytes, std::uint32_t vcpus) {
  auto plan = plan_linux_boot(boot.kernel, boot.initrd.size(), cmdline, ram_bytes, vcpus);
  if (!plan) return tl::unexpected(plan.error());
  const auto map = linux_memory_map(ram_bytes);
  LinuxEntry entry{.protocol = plan->protocol, .entry = plan->entry, .boot_info = 0};
  if (plan->protocol == LinuxEntryProtocol::Pvh) {
    if (auto r = load_elf64(memory, boot.kernel); !r) return tl::unexpected(r.error());
    std::optional<PvhModule> module;
    if (plan->initrd_size > 0) module = PvhModule{plan->initrd_address, plan->initrd_size};
    const auto info = build_pvh_start_info(kLinuxStartInfo, kLinuxCmdline, module, map);
    if (auto r = memory.write(kLinuxStartInfo, info); !r) return tl::unexpected(r.error());
    entry.boot_info = kLinuxStartInfo;
  } else {
    auto header = parse_bzimage(boot.kernel);
    if (!header) return tl::unexpected(header.error());
    if (auto r = memory.write(header->load_address, header->protected_mode); !r) return tl::unexpected(r.error());
    auto params = build_boot_params(*header, static_cast<std::uint32_t>(kLinuxCmdline),
                                    static_cast<std::uint32_t>(plan->initrd_address),
                                    static_cast<std::uint32_t>(plan->initrd_size), map);
    if (!params) return tl::unexpected(params.error());
    if (auto r = memory.write(kLinuxZeroPage, *params); !r) return tl::unexpected(r.error());
    entry.boot_info = kLinuxZeroPage;
  }
  if (plan->initrd_size > 0) {
    if (auto r = memory.write(plan->initrd_address, boot.initrd); !r) return tl::unexpected(r.error());
  }
  std::vector<std::uint8_t> line(cmdline.begin(), cmdline.end());
  line.push_back(0);
  if (auto r = memory.write(kLinuxCmdline, line); !r) return tl::unexpected(r.error());
  auto mp = build_mp_table(kLinuxMpTable, vcpus);
  if (!mp) return tl::unexpected(mp.error());
  if (auto r = memory.write(kLinuxMpTable, *mp); !r) return tl::unexpected(r.error());
  return entry;
}

Result<void> enter_linux(const GuestMemory& memory, Vcpu& boot_vcpu, const LinuxEntry& entry) {
  if (entry.protocol == LinuxEntryProtocol::Pvh) {
    GeneralRegisters regs;
    regs.rbx = entry.boot_info;
    return x86::enter_protected_mode(memory, boot_vcpu, kLinuxBootTables, static_cast<std::uint32_t>(entry.entry),
                                     regs);
  }
  if (auto r = x86::enter_long_mode(memory, boot_vcpu, kLinuxBootTables, entry.entry, kLinuxStackTop); !r) return r;
  auto regs = boot_vcpu.get_registers();
  if (!regs) return tl::unexpected(regs.error());
  regs->rsi = entry.boot_info;
  return boot_vcpu.set_registers(*regs);
}

}  // namespace hv::vmm
