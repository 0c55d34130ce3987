#pragma once
// The KVM ioctl ABI as hvkit uses it. Only kvm/src includes this file. Fixed-size structs come from the
// kernel's uapi header; the assertions below pin their sizes, the field offsets hvkit reads, and every
// ioctl number to the values of the x86-64 kernel ABI (Documentation/virt/kvm/api.rst), so a header
// from a different architecture or a changed layout fails the build instead of corrupting memory.
//
// Why hvkit defines its own ioctl constants: the uapi header declares flexible arrays with
// __DECLARE_FLEX_ARRAY, whose empty member has size 1 in C++. Compiled as C++, sizeof(kvm_msrs),
// sizeof(kvm_cpuid2), sizeof(kvm_irq_routing) and sizeof(kvm_xsave) grow, and with them the ioctl
// numbers KVM_GET_MSRS & co. expand to — numbers the kernel does not know. hvkit uses only the k*
// constants below and lays out the variable-length structs with its own headers.

#include <linux/kvm.h>

#include <cstddef>

namespace hv::kvm::abi {

inline constexpr int kApiVersion = 12;

// C-layout headers of the variable-length structs (see the note above).
struct MsrsHeader {  // struct kvm_msrs, followed by nmsrs kvm_msr_entry
  __u32 nmsrs;
  __u32 pad;
};
struct Cpuid2Header {  // struct kvm_cpuid2, followed by nent kvm_cpuid_entry2
  __u32 nent;
  __u32 padding;
};
struct IrqRoutingHeader {  // struct kvm_irq_routing, followed by nr kvm_irq_routing_entry
  __u32 nr;
  __u32 flags;
};
struct SignalMaskHeader {  // struct kvm_signal_mask, followed by len bytes of kernel sigset
  __u32 len;
};
struct Xsave {  // struct kvm_xsave without the KVM_GET_XSAVE2 tail
  __u32 region[1024];
};
static_assert(sizeof(MsrsHeader) == 8 && sizeof(Cpuid2Header) == 8 && sizeof(IrqRoutingHeader) == 8);
static_assert(sizeof(SignalMaskHeader) == 4);
// The kernel's sigset_t for KVM_SET_SIGNAL_MASK is 64 bits on x86-64 (not glibc's 1024-bit sigset_t).
inline constexpr __u32 kKernelSigsetSize = 8;
static_assert(sizeof(Xsave) == 4096);

static_assert(sizeof(kvm_regs) == 144);
static_assert(offsetof(kvm_regs, rip) == 128 && offsetof(kvm_regs, rflags) == 136);
static_assert(sizeof(kvm_segment) == 24);
static_assert(sizeof(kvm_dtable) == 16);
static_assert(sizeof(kvm_sregs) == 312);
static_assert(offsetof(kvm_sregs, gdt) == 192 && offsetof(kvm_sregs, cr0) == 224);
static_assert(offsetof(kvm_sregs, efer) == 264 && offsetof(kvm_sregs, interrupt_bitmap) == 280);
static_assert(sizeof(kvm_fpu) == 416);
static_assert(offsetof(kvm_fpu, xmm) == 152 && offsetof(kvm_fpu, mxcsr) == 408);
static_assert(sizeof(kvm_msr_entry) == 16);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_lapic_state) == 1024);
static_assert(sizeof(kvm_userspace_memory_region) == 32);
static_assert(sizeof(kvm_dirty_log) == 16);
static_assert(sizeof(kvm_irqfd) == 32);
static_assert(sizeof(kvm_ioeventfd) == 64);
static_assert(sizeof(kvm_msi) == 32);
static_assert(sizeof(kvm_irq_routing_entry) == 48);
static_assert(sizeof(kvm_irq_level) == 8);
static_assert(sizeof(kvm_pit_config) == 64);
// vCPU state for snapshots (Documentation/virt/kvm/api.rst 4.31-4.32, 4.38-4.39, 4.41-4.42, 4.60-4.61).
static_assert(sizeof(kvm_vcpu_events) == 64);
static_assert(offsetof(kvm_vcpu_events, exception.injected) == 0 && offsetof(kvm_vcpu_events, exception.nr) == 1 &&
              offsetof(kvm_vcpu_events, exception.has_error_code) == 2 &&
              offsetof(kvm_vcpu_events, exception.pending) == 3 &&
              offsetof(kvm_vcpu_events, exception.error_code) == 4);
static_assert(offsetof(kvm_vcpu_events, interrupt.injected) == 8 && offsetof(kvm_vcpu_events, interrupt.nr) == 9 &&
              offsetof(kvm_vcpu_events, interrupt.soft) == 10 && offsetof(kvm_vcpu_events, interrupt.shadow) == 11);
static_assert(offsetof(kvm_vcpu_events, nmi.injected) == 12 && offsetof(kvm_vcpu_events, nmi.pending) == 13 &&
              offsetof(kvm_vcpu_events, nmi.masked) == 14);
static_assert(offsetof(kvm_vcpu_events, sipi_vector) == 16 && offsetof(kvm_vcpu_events, flags) == 20 &&
              offsetof(kvm_vcpu_events, smi) == 24 && offsetof(kvm_vcpu_events, exception_has_payload) == 55 &&
              offsetof(kvm_vcpu_events, exception_payload) == 56);
static_assert(KVM_VCPUEVENT_VALID_NMI_PENDING == 1 && KVM_VCPUEVENT_VALID_SIPI_VECTOR == 2 &&
              KVM_VCPUEVENT_VALID_SHADOW == 4 && KVM_VCPUEVENT_VALID_SMM == 8);
static_assert(KVM_X86_SHADOW_INT_MOV_SS == 1 && KVM_X86_SHADOW_INT_STI == 2);
static_assert(sizeof(kvm_mp_state) == 4);
static_assert(KVM_MP_STATE_RUNNABLE == 0 && KVM_MP_STATE_UNINITIALIZED == 1 && KVM_MP_STATE_INIT_RECEIVED == 2 &&
              KVM_MP_STATE_HALTED == 3 && KVM_MP_STATE_SIPI_RECEIVED == 4);
static_assert(sizeof(kvm_xcr) == 16 && offsetof(kvm_xcr, value) == 8);
static_assert(sizeof(kvm_xcrs) == 392 && offsetof(kvm_xcrs, xcrs) == 8 && KVM_MAX_XCRS == 16);
static_assert(sizeof(kvm_debugregs) == 128 && offsetof(kvm_debugregs, dr6) == 32 &&
              offsetof(kvm_debugregs, dr7) == 40 && offsetof(kvm_debugregs, flags) == 48);

// kvm_run: the shared page the exit path decodes.
static_assert(sizeof(kvm_run) == 2352);
static_assert(offsetof(kvm_run, immediate_exit) == 1);
static_assert(offsetof(kvm_run, exit_reason) == 8);
static_assert(offsetof(kvm_run, io) == 32 && offsetof(kvm_run, mmio) == 32);
static_assert(offsetof(kvm_run, io.data_offset) == 40);
static_assert(offsetof(kvm_run, mmio.data) == 40 && offsetof(kvm_run, mmio.len) == 48);
static_assert(offsetof(kvm_run, system_event.type) == 32);
static_assert(offsetof(kvm_run, internal.suberror) == 32);

// Exit reasons hvkit decodes.
static_assert(KVM_EXIT_UNKNOWN == 0 && KVM_EXIT_IO == 2 && KVM_EXIT_HLT == 5 && KVM_EXIT_MMIO == 6);
static_assert(KVM_EXIT_SHUTDOWN == 8 && KVM_EXIT_FAIL_ENTRY == 9 && KVM_EXIT_INTR == 10);
static_assert(KVM_EXIT_INTERNAL_ERROR == 17 && KVM_EXIT_SYSTEM_EVENT == 24);
static_assert(KVM_EXIT_IO_IN == 0 && KVM_EXIT_IO_OUT == 1);
static_assert(KVM_SYSTEM_EVENT_SHUTDOWN == 1 && KVM_SYSTEM_EVENT_RESET == 2 && KVM_SYSTEM_EVENT_CRASH == 3);

// ioctl numbers: the kernel's values as literals, each checked against _IO/_IOR/_IOW/_IOWR over the
// C layout, so a typo in either fails the build. A macro because it declares a name and stringises it
// for the static_assert message; no function can do either.
// NOLINTBEGIN(cppcoreguidelines-macro-usage,bugprone-macro-parentheses): `name` is a declarator.
#define HVKIT_KVM_IOCTL(name, value, expr)     \
  inline constexpr unsigned long name = value; \
  static_assert(name == (expr), #name)
// NOLINTEND(cppcoreguidelines-macro-usage,bugprone-macro-parentheses)
HVKIT_KVM_IOCTL(kGetApiVersion, 0xAE00, _IO(KVMIO, 0x00));
HVKIT_KVM_IOCTL(kCreateVm, 0xAE01, _IO(KVMIO, 0x01));
HVKIT_KVM_IOCTL(kCheckExtension, 0xAE03, _IO(KVMIO, 0x03));
HVKIT_KVM_IOCTL(kGetVcpuMmapSize, 0xAE04, _IO(KVMIO, 0x04));
HVKIT_KVM_IOCTL(kGetSupportedCpuid, 0xC008AE05, _IOWR(KVMIO, 0x05, Cpuid2Header));
HVKIT_KVM_IOCTL(kCreateVcpu, 0xAE41, _IO(KVMIO, 0x41));
HVKIT_KVM_IOCTL(kGetDirtyLog, 0x4010AE42, _IOW(KVMIO, 0x42, kvm_dirty_log));
HVKIT_KVM_IOCTL(kSetUserMemoryRegion, 0x4020AE46, _IOW(KVMIO, 0x46, kvm_userspace_memory_region));
HVKIT_KVM_IOCTL(kSetTssAddr, 0xAE47, _IO(KVMIO, 0x47));
HVKIT_KVM_IOCTL(kCreateIrqchip, 0xAE60, _IO(KVMIO, 0x60));
HVKIT_KVM_IOCTL(kIrqLine, 0x4008AE61, _IOW(KVMIO, 0x61, kvm_irq_level));
HVKIT_KVM_IOCTL(kSetGsiRouting, 0x4008AE6A, _IOW(KVMIO, 0x6a, IrqRoutingHeader));
HVKIT_KVM_IOCTL(kIrqfd, 0x4020AE76, _IOW(KVMIO, 0x76, kvm_irqfd));
HVKIT_KVM_IOCTL(kCreatePit2, 0x4040AE77, _IOW(KVMIO, 0x77, kvm_pit_config));
HVKIT_KVM_IOCTL(kIoeventfd, 0x4040AE79, _IOW(KVMIO, 0x79, kvm_ioeventfd));
HVKIT_KVM_IOCTL(kRun, 0xAE80, _IO(KVMIO, 0x80));
HVKIT_KVM_IOCTL(kGetRegs, 0x8090AE81, _IOR(KVMIO, 0x81, kvm_regs));
HVKIT_KVM_IOCTL(kSetRegs, 0x4090AE82, _IOW(KVMIO, 0x82, kvm_regs));
HVKIT_KVM_IOCTL(kGetSregs, 0x8138AE83, _IOR(KVMIO, 0x83, kvm_sregs));
HVKIT_KVM_IOCTL(kSetSregs, 0x4138AE84, _IOW(KVMIO, 0x84, kvm_sregs));
HVKIT_KVM_IOCTL(kGetMsrs, 0xC008AE88, _IOWR(KVMIO, 0x88, MsrsHeader));
HVKIT_KVM_IOCTL(kSetMsrs, 0x4008AE89, _IOW(KVMIO, 0x89, MsrsHeader));
HVKIT_KVM_IOCTL(kSetSignalMask, 0x4004AE8B, _IOW(KVMIO, 0x8b, SignalMaskHeader));
HVKIT_KVM_IOCTL(kGetFpu, 0x81A0AE8C, _IOR(KVMIO, 0x8c, kvm_fpu));
HVKIT_KVM_IOCTL(kSetFpu, 0x41A0AE8D, _IOW(KVMIO, 0x8d, kvm_fpu));
HVKIT_KVM_IOCTL(kGetLapic, 0x8400AE8E, _IOR(KVMIO, 0x8e, kvm_lapic_state));
HVKIT_KVM_IOCTL(kSetLapic, 0x4400AE8F, _IOW(KVMIO, 0x8f, kvm_lapic_state));
HVKIT_KVM_IOCTL(kSetCpuid2, 0x4008AE90, _IOW(KVMIO, 0x90, Cpuid2Header));
HVKIT_KVM_IOCTL(kGetCpuid2, 0xC008AE91, _IOWR(KVMIO, 0x91, Cpuid2Header));
HVKIT_KVM_IOCTL(kGetXsave, 0x9000AEA4, _IOR(KVMIO, 0xa4, Xsave));
HVKIT_KVM_IOCTL(kSetXsave, 0x5000AEA5, _IOW(KVMIO, 0xa5, Xsave));
HVKIT_KVM_IOCTL(kSignalMsi, 0x4020AEA5, _IOW(KVMIO, 0xa5, kvm_msi));
HVKIT_KVM_IOCTL(kSetGuestDebug, 0x4048AE9B, _IOW(KVMIO, 0x9b, kvm_guest_debug));
HVKIT_KVM_IOCTL(kGetMpState, 0x8004AE98, _IOR(KVMIO, 0x98, kvm_mp_state));
HVKIT_KVM_IOCTL(kSetMpState, 0x4004AE99, _IOW(KVMIO, 0x99, kvm_mp_state));
HVKIT_KVM_IOCTL(kGetVcpuEvents, 0x8040AE9F, _IOR(KVMIO, 0x9f, kvm_vcpu_events));
HVKIT_KVM_IOCTL(kSetVcpuEvents, 0x4040AEA0, _IOW(KVMIO, 0xa0, kvm_vcpu_events));
HVKIT_KVM_IOCTL(kGetDebugRegs, 0x8080AEA1, _IOR(KVMIO, 0xa1, kvm_debugregs));
HVKIT_KVM_IOCTL(kSetDebugRegs, 0x4080AEA2, _IOW(KVMIO, 0xa2, kvm_debugregs));
HVKIT_KVM_IOCTL(kGetXcrs, 0x8188AEA6, _IOR(KVMIO, 0xa6, kvm_xcrs));
HVKIT_KVM_IOCTL(kSetXcrs, 0x4188AEA7, _IOW(KVMIO, 0xa7, kvm_xcrs));
HVKIT_KVM_IOCTL(kGetXsave2, 0x9000AECF, _IOR(KVMIO, 0xcf, Xsave));
#undef HVKIT_KVM_IOCTL

// Capability numbers hvkit queries.
static_assert(KVM_CAP_IRQCHIP == 0 && KVM_CAP_USER_MEMORY == 3 && KVM_CAP_SET_TSS_ADDR == 4);
static_assert(KVM_CAP_NR_VCPUS == 9 && KVM_CAP_NR_MEMSLOTS == 10 && KVM_CAP_PIT2 == 33);
static_assert(KVM_CAP_IOEVENTFD == 36 && KVM_CAP_IRQ_ROUTING == 25 && KVM_CAP_IRQFD == 32);
static_assert(KVM_CAP_XSAVE == 55 && KVM_CAP_MAX_VCPUS == 66 && KVM_CAP_SIGNAL_MSI == 77);
static_assert(KVM_CAP_READONLY_MEM == 81 && KVM_CAP_IMMEDIATE_EXIT == 136 && KVM_CAP_XSAVE2 == 208);
static_assert(KVM_CAP_MAX_VCPU_ID == 128);
static_assert(KVM_CAP_MP_STATE == 14 && KVM_CAP_VCPU_EVENTS == 41 && KVM_CAP_DEBUGREGS == 50 && KVM_CAP_XCRS == 56);

static_assert(KVM_MEM_LOG_DIRTY_PAGES == 1 && KVM_MEM_READONLY == 2);
static_assert(KVM_IOEVENTFD_FLAG_DATAMATCH == 1 && KVM_IOEVENTFD_FLAG_PIO == 2 && KVM_IOEVENTFD_FLAG_DEASSIGN == 4);
static_assert(KVM_IRQFD_FLAG_DEASSIGN == 1);
static_assert(KVM_IRQ_ROUTING_IRQCHIP == 1 && KVM_IRQ_ROUTING_MSI == 2);
static_assert(KVM_CPUID_FLAG_SIGNIFCANT_INDEX == 1);

}  // namespace hv::kvm::abi
