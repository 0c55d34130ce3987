#pragma once
// Boots a Linux kernel the way a VMM without firmware does: a vmlinux ELF through its PVH entry (Xen's
// hvm_start_info, 32-bit protected mode, paging off) or a bzImage through the 64-bit boot protocol
// (boot_params with the e820 map, long mode with identity paging). Either way the command line, an
// initrd and an MP table describing the vCPUs, LAPIC and IOAPIC are placed at fixed addresses in low
// memory (docs/linux-boot.md has the table). The kernel, the initrd and the command line come from
// the user and are untrusted: plan_linux_boot checks every header field and the whole layout before
// anything is written, and every write goes through GuestMemory's bounds checks.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"

namespace hv::vmm {

// What MachineConfig::linux_boot carries: the kernel image (vmlinux ELF64 with a PVH note, or bzImage)
// and an optional initrd (empty: none).
struct LinuxBoot {
  std::vector<std::uint8_t> kernel;
  std::vector<std::uint8_t> initrd;
};

enum class LinuxEntryProtocol : std::uint8_t { Pvh, BzImage64 };

// The fixed low-memory layout (guest-physical). Nothing of the kernel may lie below kLinuxKernelFloor.
inline constexpr std::uint64_t kLinuxStartInfo = 0x6000;    // PVH: hvm_start_info, module list, memory map
inline constexpr std::uint64_t kLinuxZeroPage = 0x7000;     // bzImage: boot_params (4 KiB)
inline constexpr std::uint64_t kLinuxStackTop = 0x9000;     // bzImage: RSP (the stack grows down from here)
inline constexpr std::uint64_t kLinuxBootTables = 0x9000;   // GDT (PVH) or GDT + identity page tables (bzImage)
inline constexpr std::uint64_t kLinuxCmdline = 0x20000;     // the command line, NUL-terminated
inline constexpr std::uint64_t kLinuxCmdlineArea = 0x1000;  // bytes reserved for it (with the NUL)
inline constexpr std::uint64_t kLinuxMpTable = 0x9fc00;     // MP floating pointer, then the configuration table
inline constexpr std::uint64_t kLinuxLowRamEnd = 0x9fc00;   // e820: RAM below, reserved up to 1 MiB
inline constexpr std::uint64_t kLinuxKernelFloor = 0x100000;
// RAM is one region from 0 (no PCI hole): it must end below the device windows and the APICs.
inline constexpr std::uint64_t kLinuxMaxRam = 0xc0000000;
// APIC ids 0..vcpus-1 and the IOAPIC's id (= vcpus) must stay below 255, the broadcast id.
inline constexpr std::uint32_t kLinuxMaxVcpus = 254;
// x86 COMMAND_LINE_SIZE is 2048: the PVH path copies at most 2047 bytes and the NUL.
inline constexpr std::size_t kPvhMaxCmdline = 2047;

// Where everything goes and how the kernel is entered, from the checks alone (no guest memory).
struct LinuxPlan {
  LinuxEntryProtocol protocol = LinuxEntryProtocol::Pvh;
  std::uint64_t entry = 0;           // guest-physical: the PVH entry, or the 64-bit entry (load + 0x200)
  std::uint64_t kernel_start = 0;    // the kernel's footprint [kernel_start, kernel_end)
  std::uint64_t kernel_end = 0;      //   (bzImage: the load address plus init_size)
  std::uint64_t initrd_address = 0;  // 0 without an initrd
  std::uint64_t initrd_size = 0;
  std::size_t max_cmdline = 0;  // the most command-line bytes this kernel takes (without the NUL)
};

// Checks the kernel, the initrd's size, the command line and the machine (RAM bytes from 0, vCPUs)
// and lays them out. Every refusal names the field or range at fault.
Result<LinuxPlan> plan_linux_boot(std::span<const std::uint8_t> kernel, std::uint64_t initrd_size,
                                  std::string_view cmdline, std::uint64_t ram_bytes, std::uint32_t vcpus);

// How the boot vCPU must be entered once everything is written.
struct LinuxEntry {
  LinuxEntryProtocol protocol = LinuxEntryProtocol::Pvh;
  std::uint64_t entry = 0;
  std::uint64_t boot_info = 0;  // EBX (PVH: hvm_start_info) or RSI (bzImage: boot_params)
};

// Plans, then writes the kernel, the initrd, the command line, the boot information and the MP table
// into `memory` (one region of `ram_bytes` from 0). Enter the vCPU with enter_linux.
Result<LinuxEntry> load_linux(const GuestMemory& memory, const LinuxBoot& boot, std::string_view cmdline,
                              std::uint64_t ram_bytes, std::uint32_t vcpus);

// Puts the boot vCPU where the protocol hands the kernel over. PVH: 32-bit protected mode, paging off,
// EBX = hvm_start_info (a flat GDT at kLinuxBootTables). bzImage: long mode with identity paging over
// the first 4 GiB (GDT and tables at kLinuxBootTables), RSI = boot_params, RSP = kLinuxStackTop,
// interrupts off. The other vCPUs are left alone: Linux starts them with INIT/SIPI.
Result<void> enter_linux(const GuestMemory& memory, Vcpu& boot_vcpu, const LinuxEntry& entry);

}  // namespace hv::vmm
