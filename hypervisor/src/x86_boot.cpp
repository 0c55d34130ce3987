#include "hv/x86_boot.hpp"

#include <array>
#include <string>

namespace hv::x86 {

namespace {

constexpr std::uint64_t kCr0Pe = 1ULL << 0, kCr0Mp = 1ULL << 1, kCr0Et = 1ULL << 4, kCr0Ne = 1ULL << 5;
constexpr std::uint64_t kCr0Wp = 1ULL << 16, kCr0Pg = 1ULL << 31;
constexpr std::uint64_t kCr4Pae = 1ULL << 5, kCr4Osfxsr = 1ULL << 9, kCr4Osxmmexcpt = 1ULL << 10;
constexpr std::uint64_t kEferLme = 1ULL << 8, kEferLma = 1ULL << 10;
constexpr std::uint64_t kIdentityMapped = 4ULL << 30;
constexpr std::uint64_t kPtePresent = 1, kPteWritable = 2, kPteHuge = 1ULL << 7;

// Flat descriptors: 64-bit code, 32-bit data, 32-bit code (base 0, limit 4 GiB).
constexpr std::array<std::uint64_t, 4> kGdt = {0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL, 0x00cf9b000000ffffULL};

Segment flat_segment(std::uint16_t selector, std::uint8_t type, bool long_mode) {
  return {.base = 0,
          .limit = 0xffffffff,
          .selector = selector,
          .type = type,
          .dpl = 0,
          .present = true,
          .db = !long_mode,
          .s = true,
          .l = long_mode,
          .g = true,
          .avl = false,
          .unusable = false};
}

Segment real_mode_segment(std::uint8_t type) {
  return {.base = 0,
          .limit = 0xffff,
          .selector = 0,
          .type = type,
          .dpl = 0,
          .present = true,
          .db = false,
          .s = true,
          .l = false,
          .g = false,
          .avl = false,
          .unusable = false};
}

}  // namespace

Result<void> enter_real_mode(Vcpu& vcpu, std::uint16_t entry, std::uint16_t stack) {
  auto sregs = vcpu.get_special_registers();
  if (!sregs) return tl::unexpected(sregs.error());
  sregs->cs = real_mode_segment(0xb);
  sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = real_mode_segment(0x3);
  sregs->idt = {.base = 0, .limit = 0x3ff};  // the real-mode interrupt vector table
  sregs->cr0 &= ~(kCr0Pe | kCr0Pg);
  sregs->efer &= ~(kEferLme | kEferLma);
  if (auto r = vcpu.set_special_registers(*sregs); !r) return r;
  GeneralRegisters regs;
  regs.rip = entry;
  regs.rsp = stack;
  return vcpu.set_registers(regs);
}

Result<void> enter_long_mode(const GuestMemory& memory, Vcpu& vcpu, std::uint64_t tables, std::uint64_t entry,
                             std::uint64_t stack) {
  constexpr const char* op = "x86::enter_long_mode";
  if (tables % kPageSize != 0) return fail(ErrorKind::InvalidArgument, op, "page tables must be page-aligned");
  // The GDT base is a linear address: it must lie inside the identity-mapped first 4 GiB.
  if (tables > kIdentityMapped - kLongModeTablesSize) {
    return fail(ErrorKind::OutOfRange, op, "page tables must lie below 4 GiB");
  }
  auto area = memory.slice(tables, kLongModeTablesSize);
  if (!area) return tl::unexpected(area.error());
  std::fill(area->begin(), area->end(), std::uint8_t{0});

  const std::uint64_t gdt = tables;
  const std::uint64_t pml4 = tables + kPageSize;
  const std::uint64_t pdpt = pml4 + kPageSize;
  const std::uint64_t pd = pdpt + kPageSize;  // four consecutive page directories
  std::uint64_t descriptor = gdt;
  for (const auto& gdt_entry : kGdt) {
    if (auto r = memory.write_obj(descriptor, gdt_entry); !r) return r;
    descriptor += sizeof gdt_entry;
  }
  if (auto r = memory.write_obj(pml4, pdpt | kPtePresent | kPteWritable); !r) return r;
  for (std::uint64_t gib = 0; gib < 4; ++gib) {
    const std::uint64_t directory = pd + gib * kPageSize;
    if (auto r = memory.write_obj(pdpt + gib * 8, directory | kPtePresent | kPteWritable); !r) return r;
    for (std::uint64_t i = 0; i < 512; ++i) {
      const std::uint64_t frame = (gib << 30) | (i << 21);
      if (auto r = memory.write_obj(directory + i * 8, frame | kPtePresent | kPteWritable | kPteHuge); !r) return r;
    }
  }

  auto sregs = vcpu.get_special_registers();
  if (!sregs) return tl::unexpected(sregs.error());
  sregs->gdt = {.base = gdt, .limit = static_cast<std::uint16_t>(kGdt.size() * 8 - 1)};
  sregs->idt = {.base = 0, .limit = 0};
  sregs->cs = flat_segment(kCodeSelector64, 0xb, true);
  sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = flat_segment(kDataSelector, 0x3, false);
  sregs->cr3 = pml4;
  sregs->cr4 |= kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  sregs->cr0 = (sregs->cr0 | kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg) & ~0x60000004ULL;  // CD, NW, EM off
  sregs->efer |= kEferLme | kEferLma;
  if (auto r = vcpu.set_special_registers(*sregs); !r) return r;
  GeneralRegisters regs;
  regs.rip = entry;
  regs.rsp = stack;
  return vcpu.set_registers(regs);
}

Result<void> enter_protected_mode(const GuestMemory& memory, Vcpu& vcpu, std::uint64_t gdt, std::uint32_t entry,
                                  GeneralRegisters registers) {
  constexpr const char* op = "x86::enter_protected_mode";
  static_assert(kProtectedModeGdtSize == kGdt.size() * sizeof(kGdt[0]));
  if (gdt % 8 != 0) return fail(ErrorKind::InvalidArgument, op, "the GDT must be 8-byte aligned");
  // The GDT base is a linear address, and without paging linear = physical: it must lie below 4 GiB.
  if (gdt > kIdentityMapped - kProtectedModeGdtSize)
    return fail(ErrorKind::OutOfRange, op, "the GDT must lie below 4 GiB");
  if (auto area = memory.slice(gdt, kProtectedModeGdtSize); !area) return tl::unexpected(area.error());
  std::uint64_t descriptor = gdt;
  for (const auto& gdt_entry : kGdt) {
    if (auto r = memory.write_obj(descriptor, gdt_entry); !r) return r;
    descriptor += sizeof gdt_entry;
  }

  auto sregs = vcpu.get_special_registers();
  if (!sregs) return tl::unexpected(sregs.error());
  sregs->gdt = {.base = gdt, .limit = static_cast<std::uint16_t>(kProtectedModeGdtSize - 1)};
  sregs->idt = {.base = 0, .limit = 0};
  sregs->cs = flat_segment(kCodeSelector32, 0xb, false);
  sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = flat_segment(kDataSelector, 0x3, false);
  sregs->cr0 = kCr0Pe | kCr0Et;
  sregs->cr3 = 0;
  sregs->cr4 = 0;
  sregs->efer &= ~(kEferLme | kEferLma);
  if (auto r = vcpu.set_special_registers(*sregs); !r) return r;
  registers.rip = entry;
  registers.rflags = 0x2;
  return vcpu.set_registers(registers);
}

}  // namespace hv::x86
