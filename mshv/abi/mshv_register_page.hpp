#pragma once
// The VP register page (docs/mshv-abi.md §10.1): a page the hypervisor shares with the VMM per VP,
// mapped from the VP descriptor at MSHV_VP_MMAP_OFFSET_REGISTERS (0) × the host page size. While
// `isvalid` is set it holds the VP's state at its last intercept; the VMM reads registers from it and
// writes them back by setting the register class's bit in `dirty`, which the hypervisor applies at
// the next RUN_VP — no HVCALL_GET/SET_VP_REGISTERS for these registers. The backend maps it per VP
// (mshv/src/mshv_vp_register_page.cpp); mshv-sim provides one (mshv/sim/src/sim_register_page.cpp).
//
// Layout: struct hv_vp_register_page of Linux include/hyperv/hvhdk.h with the 8-byte pad after RFLAGS
// that commit 48fcc895403c ("mshv: add a missing padding field", 2026-04, in 7.0- and 6.18-stable)
// restored ("That was missed when importing the header"); rust-vmm's copy of the hypervisor headers
// (mshv hv-headers/hvhdk.h, bindgen layout tests in mshv-bindings) and openvmm have had it all along.
// The fields after instruction_emulation_hints (xfem, and the dispatch interrupt vectors at 688 in
// rust-vmm's newer header) are left out: nothing here needs them, and the kernel's header ends here.

#include <cstddef>
#include <cstdint>

#include "mshv_abi.hpp"

namespace hv::mshv::abi {

// MSHV_VP_MMAP_OFFSET_*, in host pages (Linux include/uapi/linux/mshv.h; mshv_vp_mmap).
inline constexpr std::uint64_t kVpMmapOffsetRegisters = 0, kVpMmapOffsetInterceptMessage = 1, kVpMmapOffsetGhcb = 2;
inline constexpr std::uint16_t kRegisterPageVersion1 = 1;  // HV_VP_REGISTER_PAGE_VERSION_1
// Bits of `dirty` (HV_X64_REGISTER_CLASS_*): which classes the VMM wrote.
inline constexpr std::uint32_t kRegisterClassGeneral = 0, kRegisterClassIp = 1, kRegisterClassXmm = 2,
                               kRegisterClassSegment = 3, kRegisterClassFlags = 4;

struct HvVpRegisterPage {
  std::uint16_t version;
  std::uint8_t isvalid;
  std::uint8_t rsvdz;
  std::uint32_t dirty;
  std::uint64_t gp_registers[16];  // RAX RCX RDX RBX RSP RBP RSI RDI R8..R15: the order of reg::kRax + n
  std::uint64_t rip;
  std::uint64_t rflags;
  std::uint8_t reserved[8];
  HvRegisterValue xmm[6];                       // XMM0-5 (hv_u128: low u64, high u64)
  HvSegmentRegister segments[6];                // ES CS SS DS FS GS
  std::uint64_t cr0, cr3, cr4, cr8, efer, dr7;  // read only through the page
  std::uint64_t pending_interruption;
  std::uint64_t interrupt_state;
  std::uint64_t instruction_emulation_hints;
};
inline constexpr std::size_t kRegisterPageSegmentEs = 0, kRegisterPageSegmentCs = 1, kRegisterPageSegmentSs = 2,
                             kRegisterPageSegmentDs = 3, kRegisterPageSegmentFs = 4, kRegisterPageSegmentGs = 5;

static_assert(sizeof(HvVpRegisterPage) == 424 && offsetof(HvVpRegisterPage, isvalid) == 2 &&
              offsetof(HvVpRegisterPage, rsvdz) == 3 && offsetof(HvVpRegisterPage, dirty) == 4 &&
              offsetof(HvVpRegisterPage, gp_registers) == 8 && offsetof(HvVpRegisterPage, rip) == 136 &&
              offsetof(HvVpRegisterPage, rflags) == 144 && offsetof(HvVpRegisterPage, reserved) == 152 &&
              offsetof(HvVpRegisterPage, xmm) == 160 && offsetof(HvVpRegisterPage, segments) == 256 &&
              offsetof(HvVpRegisterPage, cr0) == 352 && offsetof(HvVpRegisterPage, cr3) == 360 &&
              offsetof(HvVpRegisterPage, cr4) == 368 && offsetof(HvVpRegisterPage, cr8) == 376 &&
              offsetof(HvVpRegisterPage, efer) == 384 && offsetof(HvVpRegisterPage, dr7) == 392 &&
              offsetof(HvVpRegisterPage, pending_interruption) == 400 &&
              offsetof(HvVpRegisterPage, interrupt_state) == 408 &&
              offsetof(HvVpRegisterPage, instruction_emulation_hints) == 416);

}  // namespace hv::mshv::abi
