#pragma once
// hvkit's own x86-64 register types. Backends convert to and from their kernel's layouts; these never
// mirror a kernel struct, so the public API does not change when a kernel ABI does.

#include <array>
#include <cstdint>
#include <vector>

namespace hv {

struct GeneralRegisters {
  std::uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0;
  std::uint64_t rsi = 0, rdi = 0, rsp = 0, rbp = 0;
  std::uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  std::uint64_t rip = 0;
  std::uint64_t rflags = 0x2;  // bit 1 is reserved and always set
  bool operator==(const GeneralRegisters&) const = default;
};

// A segment register with its hidden descriptor cache.
struct Segment {
  std::uint64_t base = 0;
  std::uint32_t limit = 0;
  std::uint16_t selector = 0;
  std::uint8_t type = 0;  // descriptor type field (4 bits)
  std::uint8_t dpl = 0;
  bool present = false;
  bool db = false;  // default operation size (1 = 32-bit)
  bool s = false;   // code/data (1) or system (0)
  bool l = false;   // 64-bit code segment
  bool g = false;   // limit granularity 4 KiB
  bool avl = false;
  // VMX's "segment unusable" (KVM). MSHV has no such bit: it reads false and is ignored on write, as
  // rust-vmm mshv-ioctls and QEMU handle it; a segment with present = false is unusable either way.
  bool unusable = false;
  bool operator==(const Segment&) const = default;
};

struct DescriptorTable {
  std::uint64_t base = 0;
  std::uint16_t limit = 0;
  bool operator==(const DescriptorTable&) const = default;
};

struct SpecialRegisters {
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  DescriptorTable gdt, idt;
  std::uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  std::uint64_t efer = 0;
  std::uint64_t apic_base = 0;
  bool operator==(const SpecialRegisters&) const = default;
};

// Legacy FXSAVE-format state (x87 + SSE).
struct FpuState {
  std::array<std::array<std::uint8_t, 16>, 8> fpr{};  // ST0..ST7 (80 bits used of 128)
  std::uint16_t fcw = 0x37f;
  std::uint16_t fsw = 0;
  std::uint8_t ftwx = 0;  // abridged tag word
  std::uint16_t last_opcode = 0;
  std::uint64_t last_ip = 0;
  std::uint64_t last_dp = 0;
  std::array<std::array<std::uint8_t, 16>, 16> xmm{};
  std::uint32_t mxcsr = 0x1f80;
  bool operator==(const FpuState&) const = default;
};

// The XSAVE area in standard (non-compacted) format, as large as the host's enabled features need.
// Backends whose hypervisor uses the compacted format convert (CPUID leaf 0xD gives the offsets).
struct XsaveArea {
  std::vector<std::uint8_t> bytes;
  bool operator==(const XsaveArea&) const = default;
};

struct MsrEntry {
  std::uint32_t index = 0;
  std::uint64_t value = 0;
  bool operator==(const MsrEntry&) const = default;
};

// Well-known MSR indices (Intel SDM vol. 4).
namespace msr {
inline constexpr std::uint32_t kTsc = 0x10;
inline constexpr std::uint32_t kApicBase = 0x1b;
inline constexpr std::uint32_t kSysenterCs = 0x174;
inline constexpr std::uint32_t kSysenterEsp = 0x175;
inline constexpr std::uint32_t kSysenterEip = 0x176;
inline constexpr std::uint32_t kPat = 0x277;
inline constexpr std::uint32_t kEfer = 0xc0000080;
inline constexpr std::uint32_t kStar = 0xc0000081;
inline constexpr std::uint32_t kLstar = 0xc0000082;
inline constexpr std::uint32_t kCstar = 0xc0000083;
inline constexpr std::uint32_t kSfmask = 0xc0000084;
inline constexpr std::uint32_t kFsBase = 0xc0000100;
inline constexpr std::uint32_t kGsBase = 0xc0000101;
inline constexpr std::uint32_t kKernelGsBase = 0xc0000102;
}  // namespace msr

struct CpuidEntry {
  std::uint32_t function = 0;
  std::uint32_t index = 0;
  bool index_significant = false;  // the leaf has sub-leaves selected by ECX
  std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidEntry&) const = default;
};

// Events the vCPU is in the middle of delivering, and what blocks delivery (the "vCPU events" of a
// snapshot). An "injected" event is delivered through the IDT on the next entry, before any guest
// instruction; it is state KVM and MSHV keep outside the registers.
struct InjectedException {
  bool injected = false;
  std::uint8_t vector = 0;      // 0-31, not 2 (an NMI is `VcpuEvents::nmi_injected`)
  bool has_error_code = false;  // only vectors that push one: 8, 10-14, 17, 21, 29, 30
  std::uint32_t error_code = 0;
  bool operator==(const InjectedException&) const = default;
};
struct InjectedInterrupt {
  bool injected = false;
  std::uint8_t vector = 0;
  bool operator==(const InjectedInterrupt&) const = default;
};
struct VcpuEvents {
  InjectedException exception;
  InjectedInterrupt interrupt;  // an external interrupt already acknowledged from the (A)PIC
  bool nmi_injected = false;
  bool nmi_pending = false;       // latched, not yet being delivered (KVM only: MSHV keeps it in its APIC)
  bool nmi_masked = false;        // an NMI handler is running (blocking by NMI until IRET)
  bool interrupt_shadow = false;  // the instruction just executed was STI or MOV SS / POP SS
  bool operator==(const VcpuEvents&) const = default;
};

// The multiprocessing state of a vCPU (Intel SDM vol. 3 §9.4, "MP initialization"): whether it runs,
// waits in HLT, or waits for INIT / SIPI as an application processor does before it is started.
enum class MpState : std::uint8_t {
  Runnable,       // executing instructions
  Uninitialized,  // an AP that has not received INIT
  InitReceived,   // an AP that received INIT and waits for a SIPI ("wait-for-SIPI")
  Halted,         // in HLT, waiting for an interrupt
  SipiReceived,   // an AP that received its SIPI and starts at the SIPI vector on the next entry
};

// The extended control registers XSETBV writes; XCR0 (XFEM) is the only one architecturally defined.
struct ExtendedControlRegisters {
  std::uint64_t xcr0 = 1;  // bit 0 (x87) is always set
  bool operator==(const ExtendedControlRegisters&) const = default;
};

// DR0-DR3 (breakpoint addresses), DR6 (status) and DR7 (control), at their reset values.
struct DebugRegisters {
  std::array<std::uint64_t, 4> dr{};
  std::uint64_t dr6 = 0xffff0ff0;
  std::uint64_t dr7 = 0x400;
  bool operator==(const DebugRegisters&) const = default;
};

// The local APIC's 1 KiB register page as the architecture lays it out.
struct LapicState {
  std::array<std::uint8_t, 1024> regs{};
  bool operator==(const LapicState&) const = default;
};

}  // namespace hv
