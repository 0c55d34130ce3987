#pragma once
// Puts a vCPU straight into a CPU mode, the way a VMM does before jumping to a kernel or a test guest:
// real mode at an address, or 64-bit long mode with identity paging over the first 4 GiB.

#include <cstdint>

#include "hv/error.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"

namespace hv::x86 {

// GDT selectors enter_long_mode installs.
inline constexpr std::uint16_t kCodeSelector64 = 0x08;
inline constexpr std::uint16_t kDataSelector = 0x10;
inline constexpr std::uint16_t kCodeSelector32 = 0x18;

// Bytes of guest RAM enter_long_mode writes at `tables`: a GDT page, a PML4, a PDPT and four page
// directories of 2 MiB pages.
inline constexpr std::uint64_t kLongModeTablesSize = 7 * kPageSize;

// Bytes of guest RAM enter_protected_mode writes at `gdt`: the four descriptors above.
inline constexpr std::uint64_t kProtectedModeGdtSize = 32;

// Real mode with CS = DS = ES = SS = 0 base 0, IP = entry, SP = stack. entry and stack below 64 KiB.
Result<void> enter_real_mode(Vcpu& vcpu, std::uint16_t entry, std::uint16_t stack);

// Writes the GDT and identity page tables into guest RAM at `tables` (page-aligned, kLongModeTablesSize
// bytes, inside one region), then sets CR0.PE|PG, CR4.PAE, EFER.LME|LMA, a 64-bit CS and flat data
// segments, RIP = entry, RSP = stack.
Result<void> enter_long_mode(const GuestMemory& memory, Vcpu& vcpu, std::uint64_t tables, std::uint64_t entry,
                             std::uint64_t stack);

// 32-bit protected mode with paging off, as the PVH and multiboot entry protocols hand a kernel over:
// writes a flat GDT at `gdt` (8-byte aligned, below 4 GiB, kProtectedModeGdtSize bytes inside one
// region), then CS = kCodeSelector32 and DS = ES = FS = GS = SS = kDataSelector (base 0, limit 4 GiB),
// CR0 = PE|ET (no paging, no FPU emulation), CR4 = 0, EFER.LME|LMA off, no IDT, RFLAGS = 0x2
// (interrupts off), and the general registers `registers` with RIP = entry. The protocols leave the
// stack to the kernel, so RSP is whatever `registers` says.
Result<void> enter_protected_mode(const GuestMemory& memory, Vcpu& vcpu, std::uint64_t gdt, std::uint32_t entry,
                                  GeneralRegisters registers);

}  // namespace hv::x86
