#pragma once
// The upstream Linux /dev/mshv ABI (include/uapi/linux/mshv.h) and the Hyper-V structures that travel
// through it (hypercall inputs, register names, intercept messages), as hvkit uses them. Both sides of
// the contract include this file and nothing else in common: the MSHV backend (mshv/src) and the ABI
// simulator (mshv/sim). Every fact comes from docs/mshv-abi.md; its section is cited as [§n] and its
// provenance tag kept ([UAPI] upstream header, [KDRV] kernel driver, [HVK] kernel hypervisor headers,
// [RV] rust-vmm, [OV] openvmm, [INF] inference). Nothing here was checked on a Hyper-V host.
//
// The structs are plain little-endian C layouts; the static assertions pin every size and offset to
// docs/mshv-abi.md, so a layout change fails the build. hvkit defines them itself because the kernel does not
// ship the hypervisor structs in its UAPI and Debian 12's headers predate mshv.h.

#include <cstddef>
#include <cstdint>

namespace hv::mshv::abi {

// ---- ioctl numbers [§1, §2, UAPI] ----------------------------------------------------------------
inline constexpr std::uint32_t kIoctlType = 0xB8;
constexpr std::uint32_t ioc(std::uint32_t dir, std::uint32_t nr, std::uint32_t size) {
  return (dir << 30) | (size << 16) | (kIoctlType << 8) | nr;
}
inline constexpr std::uint32_t kIocNone = 0, kIocWrite = 1, kIocRead = 2, kIocReadWrite = 3;

// ---- UAPI structs [§3, UAPI] ----------------------------------------------------------------------
struct CreatePartition {  // struct mshv_create_partition
  std::uint64_t pt_flags;
  std::uint64_t pt_isolation;
};
inline constexpr std::uint64_t kPtBitLapic = 0, kPtBitX2apic = 1, kPtBitGpaSuperPages = 2,
                               kPtBitCpuAndXsaveFeatures = 3;
// Bits an upstream 6.15-6.18 kernel knows (MSHV_PT_BIT_COUNT = 3); others are EINVAL there [§3.1].
inline constexpr std::uint64_t kPtFlagsMask618 = (1ULL << 3) - 1;
inline constexpr std::uint64_t kPtIsolationNone = 0;

struct CreateVp {  // struct mshv_create_vp
  std::uint32_t vp_index;
};

struct UserMemRegion {      // struct mshv_user_mem_region
  std::uint64_t size;       // bytes
  std::uint64_t guest_pfn;  // GPA >> 12
  std::uint64_t userspace_addr;
  std::uint8_t flags;  // 1 << kSetMemBit*
  std::uint8_t rsvd[7];
};
inline constexpr std::uint8_t kSetMemBitWritable = 0, kSetMemBitExecutable = 1, kSetMemBitUnmap = 2;
inline constexpr std::uint8_t kSetMemFlagsMask = (1U << 3) - 1;

struct UserIrqfd {  // struct mshv_user_irqfd
  std::int32_t fd;
  std::int32_t resamplefd;
  std::uint32_t gsi;
  std::uint32_t flags;  // 1 << kIrqfdBit*
};
inline constexpr std::uint32_t kIrqfdBitDeassign = 0, kIrqfdBitResample = 1;

struct UserIoeventfd {  // struct mshv_user_ioeventfd
  std::uint64_t datamatch;
  std::uint64_t addr;
  std::uint32_t len;  // 0 (any), 1, 2, 4, 8
  std::int32_t fd;
  std::uint32_t flags;  // 1 << kIoeventfdBit*
  std::uint8_t rsvd[4];
};
inline constexpr std::uint32_t kIoeventfdBitDatamatch = 0, kIoeventfdBitPio = 1, kIoeventfdBitDeassign = 2;

struct UserIrqEntry {  // struct mshv_user_irq_entry
  std::uint32_t gsi;
  std::uint32_t address_lo;
  std::uint32_t address_hi;  // must be 0 [§11]
  std::uint32_t data;
};
struct UserIrqTableHeader {  // struct mshv_user_irq_table, followed by `nr` UserIrqEntry
  std::uint32_t nr;
  std::uint32_t rsvd;
};
inline constexpr std::uint32_t kMaxGuestIrqs = 4096;  // MSHV_MAX_GUEST_IRQS [§1, KDRV]
inline constexpr std::uint32_t kMaxVps = 256;         // MSHV_MAX_VPS [§1, KDRV]

struct GpapAccessBitmap {    // struct mshv_gpap_access_bitmap
  std::uint8_t access_type;  // kGpapAccessType*
  std::uint8_t access_op;    // kGpapAccessOp*
  std::uint8_t rsvd[6];
  std::uint64_t page_count;
  std::uint64_t gpap_base;   // first GFN
  std::uint64_t bitmap_ptr;  // >= ceil(page_count / 8) bytes
};
inline constexpr std::uint8_t kGpapAccessTypeAccessed = 0, kGpapAccessTypeDirty = 1;
inline constexpr std::uint8_t kGpapAccessOpNoop = 0, kGpapAccessOpClear = 1, kGpapAccessOpSet = 2;

struct RootHvcall {  // struct mshv_root_hvcall
  std::uint16_t code;
  std::uint16_t reps;  // in: rep count; out: reps completed
  std::uint16_t in_sz;
  std::uint16_t out_sz;
  std::uint16_t status;  // in: 0; out: HV_STATUS_*
  std::uint8_t rsvd[6];
  std::uint64_t in_ptr;
  std::uint64_t out_ptr;
};
inline constexpr std::uint16_t kHvcallMaxInput = 4096;  // 8 <= in_sz <= 4096; 1 <= out_sz <= 4096 [§5]

inline constexpr std::size_t kRunVpBufferSize = 256;  // MSHV_RUN_VP_BUF_SZ
struct RunVp {                                        // struct mshv_run_vp: receives one HvMessage
  std::uint8_t msg_buf[kRunVpBufferSize];
};

struct GetSetVpState {  // struct mshv_get_set_vp_state
  std::uint8_t type;    // kVpState*
  std::uint8_t rsvd[3];
  std::uint32_t buf_sz;   // in: buffer size (4 KiB multiple); out: data size
  std::uint64_t buf_ptr;  // 4 KiB aligned
};
inline constexpr std::uint8_t kVpStateLapic = 0, kVpStateXsave = 1, kVpStateSimp = 2, kVpStateSiefp = 3,
                              kVpStateSyntheticTimers = 4, kVpStateCount = 5;

// ---- The ioctl table [§2, UAPI], computed from the encoding and pinned to docs/mshv-abi.md's values --
inline constexpr std::uint32_t kCreatePartition = ioc(kIocWrite, 0x00, sizeof(CreatePartition));           // /dev/mshv
inline constexpr std::uint32_t kInitializePartition = ioc(kIocNone, 0x00, 0);                              // partition
inline constexpr std::uint32_t kCreateVp = ioc(kIocWrite, 0x01, sizeof(CreateVp));                         // partition
inline constexpr std::uint32_t kSetGuestMemory = ioc(kIocWrite, 0x02, sizeof(UserMemRegion));              // partition
inline constexpr std::uint32_t kIrqfd = ioc(kIocWrite, 0x03, sizeof(UserIrqfd));                           // partition
inline constexpr std::uint32_t kIoeventfd = ioc(kIocWrite, 0x04, sizeof(UserIoeventfd));                   // partition
inline constexpr std::uint32_t kSetMsiRouting = ioc(kIocWrite, 0x05, sizeof(UserIrqTableHeader));          // partition
inline constexpr std::uint32_t kGetGpapAccessBitmap = ioc(kIocReadWrite, 0x06, sizeof(GpapAccessBitmap));  // partition
inline constexpr std::uint32_t kRootHvcall = ioc(kIocReadWrite, 0x07, sizeof(RootHvcall));     // partition, VP
inline constexpr std::uint32_t kRunVp = ioc(kIocRead, 0x00, sizeof(RunVp));                    // VP
inline constexpr std::uint32_t kGetVpState = ioc(kIocReadWrite, 0x01, sizeof(GetSetVpState));  // VP
inline constexpr std::uint32_t kSetVpState = ioc(kIocReadWrite, 0x02, sizeof(GetSetVpState));  // VP

static_assert(kCreatePartition == 0x4010B800);
static_assert(kInitializePartition == 0x0000B800);
static_assert(kCreateVp == 0x4004B801);
static_assert(kSetGuestMemory == 0x4020B802);
static_assert(kIrqfd == 0x4010B803);
static_assert(kIoeventfd == 0x4020B804);
static_assert(kSetMsiRouting == 0x4008B805);
static_assert(kGetGpapAccessBitmap == 0xC020B806);
static_assert(kRootHvcall == 0xC020B807);
static_assert(kRunVp == 0x8100B800);
static_assert(kGetVpState == 0xC010B801);
static_assert(kSetVpState == 0xC010B802);

static_assert(sizeof(CreatePartition) == 16 && offsetof(CreatePartition, pt_isolation) == 8);
static_assert(sizeof(CreateVp) == 4);
static_assert(sizeof(UserMemRegion) == 32 && offsetof(UserMemRegion, guest_pfn) == 8 &&
              offsetof(UserMemRegion, userspace_addr) == 16 && offsetof(UserMemRegion, flags) == 24 &&
              offsetof(UserMemRegion, rsvd) == 25);
static_assert(sizeof(UserIrqfd) == 16 && offsetof(UserIrqfd, resamplefd) == 4 && offsetof(UserIrqfd, gsi) == 8 &&
              offsetof(UserIrqfd, flags) == 12);
static_assert(sizeof(UserIoeventfd) == 32 && offsetof(UserIoeventfd, addr) == 8 && offsetof(UserIoeventfd, len) == 16 &&
              offsetof(UserIoeventfd, fd) == 20 && offsetof(UserIoeventfd, flags) == 24 &&
              offsetof(UserIoeventfd, rsvd) == 28);
static_assert(sizeof(UserIrqEntry) == 16 && offsetof(UserIrqEntry, address_lo) == 4 &&
              offsetof(UserIrqEntry, address_hi) == 8 && offsetof(UserIrqEntry, data) == 12);
static_assert(sizeof(UserIrqTableHeader) == 8);
static_assert(sizeof(GpapAccessBitmap) == 32 && offsetof(GpapAccessBitmap, access_op) == 1 &&
              offsetof(GpapAccessBitmap, page_count) == 8 && offsetof(GpapAccessBitmap, gpap_base) == 16 &&
              offsetof(GpapAccessBitmap, bitmap_ptr) == 24);
static_assert(sizeof(RootHvcall) == 32 && offsetof(RootHvcall, reps) == 2 && offsetof(RootHvcall, in_sz) == 4 &&
              offsetof(RootHvcall, out_sz) == 6 && offsetof(RootHvcall, status) == 8 &&
              offsetof(RootHvcall, rsvd) == 10 && offsetof(RootHvcall, in_ptr) == 16 &&
              offsetof(RootHvcall, out_ptr) == 24);
static_assert(sizeof(RunVp) == 256);
static_assert(sizeof(GetSetVpState) == 16 && offsetof(GetSetVpState, buf_sz) == 4 &&
              offsetof(GetSetVpState, buf_ptr) == 8);

// ---- Hypercalls through MSHV_ROOT_HVCALL [§5, KDRV/HVK] ------------------------------------------------
inline constexpr std::uint16_t kHvcallGetPartitionProperty = 0x0044;
inline constexpr std::uint16_t kHvcallSetPartitionProperty = 0x0045;
inline constexpr std::uint16_t kHvcallInstallIntercept = 0x004D;
inline constexpr std::uint16_t kHvcallGetVpRegisters = 0x0050;  // rep
inline constexpr std::uint16_t kHvcallSetVpRegisters = 0x0051;  // rep
inline constexpr std::uint16_t kHvcallTranslateVirtualAddress = 0x0052;
inline constexpr std::uint16_t kHvcallClearVirtualInterrupt = 0x0056;
inline constexpr std::uint16_t kHvcallRegisterInterceptResult = 0x0091;
inline constexpr std::uint16_t kHvcallAssertVirtualInterrupt = 0x0094;
inline constexpr std::uint16_t kHvcallSignalEventDirect = 0x00C0;
inline constexpr std::uint16_t kHvcallPostMessageDirect = 0x00C1;
inline constexpr std::uint16_t kHvcallGetGpaPagesAccessStates = 0x00C9;
inline constexpr std::uint16_t kHvcallGetVpCpuidValues = 0x00F4;
inline constexpr std::uint16_t kHvcallGetPartitionPropertyEx = 0x0101;

// HV_STATUS_* [§5, HVK]
inline constexpr std::uint16_t kHvStatusSuccess = 0x0, kHvStatusInvalidHypercallCode = 0x2,
                               kHvStatusInvalidHypercallInput = 0x3, kHvStatusInvalidAlignment = 0x4,
                               kHvStatusInvalidParameter = 0x5, kHvStatusAccessDenied = 0x6,
                               kHvStatusInvalidPartitionState = 0x7, kHvStatusOperationDenied = 0x8,
                               kHvStatusUnknownProperty = 0x9, kHvStatusPropertyValueOutOfRange = 0xA,
                               kHvStatusInsufficientMemory = 0xB, kHvStatusInvalidPartitionId = 0xD,
                               kHvStatusInvalidVpIndex = 0xE, kHvStatusNotFound = 0x10, kHvStatusInvalidVpState = 0x15,
                               kHvStatusInvalidRegisterValue = 0x50;

// Register get/set [§6]: a 16-byte header, then names (get) or name/value pairs (set).
struct HvInputVpRegistersHeader {  // hv_input_get_vp_registers / hv_input_set_vp_registers header
  std::uint64_t partition_id;      // the kernel overwrites it; leave 0
  std::uint32_t vp_index;          // the caller must fill it
  std::uint8_t input_vtl;
  std::uint8_t rsvd8;
  std::uint16_t rsvd16;
};
struct HvRegisterValue {  // hv_register_value: 16 bytes, interpreted per register
  std::uint64_t low;
  std::uint64_t high;
};
struct HvRegisterAssoc {  // hv_register_assoc
  std::uint32_t name;
  std::uint32_t reserved1;
  std::uint64_t reserved2;
  HvRegisterValue value;
};
// What fits in one 4 KiB hypercall page [§5, INF].
inline constexpr std::size_t kMaxSetRegistersPerCall =
    (4096 - sizeof(HvInputVpRegistersHeader)) / sizeof(HvRegisterAssoc);
inline constexpr std::size_t kMaxGetRegistersPerCall = 4096 / sizeof(HvRegisterValue);

struct HvInputGetPartitionProperty {
  std::uint64_t partition_id;
  std::uint32_t property_code;
  std::uint32_t padding;
};
struct HvInputSetPartitionProperty {
  std::uint64_t partition_id;
  std::uint32_t property_code;
  std::uint32_t padding;
  std::uint64_t property_value;
};
struct HvInputAssertVirtualInterrupt {
  std::uint64_t partition_id;
  std::uint64_t control;    // bits 0-31 type (kInterruptType*), bit 32 level, bit 33 logical destination
  std::uint64_t dest_addr;  // APIC id
  std::uint32_t vector;
  std::uint8_t target_vtl;
  std::uint8_t rsvd8;
  std::uint16_t rsvd16;
};
inline constexpr std::uint64_t kInterruptTypeFixed = 0, kInterruptTypeLowestPriority = 1, kInterruptTypeNmi = 4;
inline constexpr std::uint64_t kInterruptControlLevel = 1ULL << 32, kInterruptControlLogical = 1ULL << 33;

struct HvInputTranslateVirtualAddress {
  std::uint64_t partition_id;
  std::uint32_t vp_index;
  std::uint32_t padding;
  std::uint64_t control_flags;  // kTranslate*
  std::uint64_t gva_page;       // GVA >> 12
};
struct HvOutputTranslateVirtualAddress {
  std::uint32_t result_code;  // kTranslateResult*
  std::uint32_t cache_type_and_overlay;
  std::uint64_t gpa_page;  // GPA = gpa_page << 12 | (gva & 0xfff)
};
inline constexpr std::uint64_t kTranslateValidateRead = 0x1, kTranslateValidateWrite = 0x2,
                               kTranslateValidateExecute = 0x4, kTranslatePrivilegeExempt = 0x8;
inline constexpr std::uint32_t kTranslateResultSuccess = 0, kTranslateResultPageNotPresent = 1,
                               kTranslateResultPrivilegeViolation = 2, kTranslateResultInvalidPageTableFlags = 3,
                               kTranslateResultGpaUnmapped = 4, kTranslateResultGpaNoReadAccess = 5,
                               kTranslateResultGpaNoWriteAccess = 6, kTranslateResultIntercept = 8;

// Partition property codes [§8, HVK/RV].
inline constexpr std::uint32_t kPropertySyntheticProcFeatures = 0x00010001;
inline constexpr std::uint32_t kPropertyTimeFreeze = 0x00030003;
inline constexpr std::uint32_t kPropertyGpaPageAccessTracking = 0x00050005;
inline constexpr std::uint32_t kPropertyUnimplementedMsrAction = 0x00050017;
inline constexpr std::uint32_t kPropertyMaxXsaveDataSize = 0x00060008;
// UNIMPLEMENTED_MSR_ACTION values (hvhdk.h HV_UNIMPLEMENTED_MSR_ACTION_*): #GP, or writes ignored and reads 0.
inline constexpr std::uint64_t kUnimplementedMsrActionFault = 0, kUnimplementedMsrActionIgnoreWriteReadZero = 1;

// HVCALL_REGISTER_INTERCEPT_RESULT input for a CPUID result (Linux include/hyperv/hvhdk.h
// hv_input_register_intercept_result with hv_register_x64_cpuid_result_parameters; all __packed,
// 60 bytes, the parameters at +16). The hypervisor returns (its own value & ~mask) | (value & mask).
struct [[gnu::packed]] HvCpuidResultParameters {
  std::uint32_t input_eax;        // leaf
  std::uint32_t input_ecx;        // subleaf
  std::uint8_t subleaf_specific;  // 1: only this subleaf
  std::uint8_t always_override;   // 1: also when the hypervisor would answer itself
  std::uint16_t padding;
  std::uint32_t eax, eax_mask, ebx, ebx_mask, ecx, ecx_mask, edx, edx_mask;
};
struct [[gnu::packed]] HvInputRegisterInterceptResult {
  std::uint64_t partition_id;  // the kernel overwrites it; leave 0
  std::uint32_t vp_index;
  std::uint32_t intercept_type;  // kInterceptTypeX64Cpuid
  HvCpuidResultParameters parameters;
};
inline constexpr std::uint32_t kInterceptTypeX64Cpuid = 2;  // HV_INTERCEPT_TYPE_X64_CPUID

static_assert(sizeof(HvInputVpRegistersHeader) == 16 && offsetof(HvInputVpRegistersHeader, vp_index) == 8 &&
              offsetof(HvInputVpRegistersHeader, input_vtl) == 12);
static_assert(sizeof(HvRegisterValue) == 16);
static_assert(sizeof(HvRegisterAssoc) == 32 && offsetof(HvRegisterAssoc, value) == 16);
static_assert(kMaxSetRegistersPerCall == 127 && kMaxGetRegistersPerCall == 256);
static_assert(sizeof(HvInputGetPartitionProperty) == 16 && offsetof(HvInputGetPartitionProperty, property_code) == 8);
static_assert(sizeof(HvInputSetPartitionProperty) == 24 && offsetof(HvInputSetPartitionProperty, property_value) == 16);
static_assert(sizeof(HvInputAssertVirtualInterrupt) == 32 && offsetof(HvInputAssertVirtualInterrupt, control) == 8 &&
              offsetof(HvInputAssertVirtualInterrupt, dest_addr) == 16 &&
              offsetof(HvInputAssertVirtualInterrupt, vector) == 24 &&
              offsetof(HvInputAssertVirtualInterrupt, target_vtl) == 28);
static_assert(sizeof(HvInputTranslateVirtualAddress) == 32 &&
              offsetof(HvInputTranslateVirtualAddress, control_flags) == 16 &&
              offsetof(HvInputTranslateVirtualAddress, gva_page) == 24);
static_assert(sizeof(HvCpuidResultParameters) == 44 && offsetof(HvCpuidResultParameters, input_ecx) == 4 &&
              offsetof(HvCpuidResultParameters, subleaf_specific) == 8 &&
              offsetof(HvCpuidResultParameters, always_override) == 9 && offsetof(HvCpuidResultParameters, eax) == 12 &&
              offsetof(HvCpuidResultParameters, eax_mask) == 16 && offsetof(HvCpuidResultParameters, ebx) == 20 &&
              offsetof(HvCpuidResultParameters, ecx) == 28 && offsetof(HvCpuidResultParameters, edx) == 36 &&
              offsetof(HvCpuidResultParameters, edx_mask) == 40);
static_assert(sizeof(HvInputRegisterInterceptResult) == 60 && offsetof(HvInputRegisterInterceptResult, vp_index) == 8 &&
              offsetof(HvInputRegisterInterceptResult, intercept_type) == 12 &&
              offsetof(HvInputRegisterInterceptResult, parameters) == 16);
static_assert(sizeof(HvOutputTranslateVirtualAddress) == 16 &&
              offsetof(HvOutputTranslateVirtualAddress, gpa_page) == 8);

// ---- Register values and names [§7] ---------------------------------------------------------------
struct HvSegmentRegister {  // hv_x64_segment_register
  std::uint64_t base;
  std::uint32_t limit;
  std::uint16_t selector;
  std::uint16_t attributes;  // bits 0-3 type, 4 S, 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G; no "unusable"
};
struct HvTableRegister {  // hv_x64_table_register
  std::uint16_t pad[3];
  std::uint16_t limit;
  std::uint64_t base;
};
// The two x87/SSE control-status registers (Linux include/hyperv/hvgdk_mini.h, union
// hv_x64_fp_control_status_register and hv_x64_xmm_control_status_register; the Hyper-V TLFS
// HV_X64_FP_CONTROL_STATUS_REGISTER). 32-bit guests see last_fp_rip as EIP:CS and last_fp_rdp as DP:DS.
struct HvFpControlStatusRegister {  // reg::kFpControlStatus
  std::uint16_t fp_control;         // FCW
  std::uint16_t fp_status;          // FSW
  std::uint8_t fp_tag;              // abridged (FXSAVE) tag word
  std::uint8_t reserved;
  std::uint16_t last_fp_op;  // FOP
  std::uint64_t last_fp_rip;
};
struct HvXmmControlStatusRegister {  // reg::kXmmControlStatus
  std::uint64_t last_fp_rdp;
  std::uint32_t xmm_status_control;       // MXCSR
  std::uint32_t xmm_status_control_mask;  // MXCSR_MASK
};
static_assert(sizeof(HvFpControlStatusRegister) == 16 && offsetof(HvFpControlStatusRegister, fp_status) == 2 &&
              offsetof(HvFpControlStatusRegister, fp_tag) == 4 && offsetof(HvFpControlStatusRegister, reserved) == 5 &&
              offsetof(HvFpControlStatusRegister, last_fp_op) == 6 &&
              offsetof(HvFpControlStatusRegister, last_fp_rip) == 8);
static_assert(sizeof(HvXmmControlStatusRegister) == 16 &&
              offsetof(HvXmmControlStatusRegister, xmm_status_control) == 8 &&
              offsetof(HvXmmControlStatusRegister, xmm_status_control_mask) == 12);
static_assert(sizeof(HvSegmentRegister) == 16 && offsetof(HvSegmentRegister, limit) == 8 &&
              offsetof(HvSegmentRegister, selector) == 12 && offsetof(HvSegmentRegister, attributes) == 14);
static_assert(sizeof(HvTableRegister) == 16 && offsetof(HvTableRegister, limit) == 6 &&
              offsetof(HvTableRegister, base) == 8);

namespace reg {                                    // register names (u32) [§7.2, RV/OV/QEMU]
inline constexpr std::uint32_t kRax = 0x00020000;  // RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 follow in x86 order
inline constexpr std::uint32_t kRip = 0x00020010, kRflags = 0x00020011;
inline constexpr std::uint32_t kXmm0 = 0x00030000, kFpMmx0 = 0x00030010;
inline constexpr std::uint32_t kFpControlStatus = 0x00030018, kXmmControlStatus = 0x00030019;
inline constexpr std::uint32_t kCr0 = 0x00040000, kCr2 = 0x00040001, kCr3 = 0x00040002, kCr4 = 0x00040003,
                               kCr8 = 0x00040004;
inline constexpr std::uint32_t kXfem = 0x00040005;
inline constexpr std::uint32_t kDr0 = 0x00050000, kDr1 = 0x00050001, kDr2 = 0x00050002, kDr3 = 0x00050003,
                               kDr6 = 0x00050004, kDr7 = 0x00050005;
inline constexpr std::uint32_t kEs = 0x00060000, kCs = 0x00060001, kSs = 0x00060002, kDs = 0x00060003, kFs = 0x00060004,
                               kGs = 0x00060005, kLdtr = 0x00060006, kTr = 0x00060007;
inline constexpr std::uint32_t kIdtr = 0x00070000, kGdtr = 0x00070001;
inline constexpr std::uint32_t kTsc = 0x00080000, kEfer = 0x00080001, kKernelGsBase = 0x00080002,
                               kApicBase = 0x00080003, kPat = 0x00080004, kSysenterCs = 0x00080005,
                               kSysenterEip = 0x00080006, kSysenterEsp = 0x00080007, kStar = 0x00080008,
                               kLstar = 0x00080009, kCstar = 0x0008000A, kSfmask = 0x0008000B, kTscAux = 0x0008007B;
inline constexpr std::uint32_t kPendingInterruption = 0x00010002, kInterruptState = 0x00010003;
inline constexpr std::uint32_t kPendingEvent0 = 0x00010004, kPendingEvent1 = 0x00010005;
inline constexpr std::uint32_t kInternalActivityState = 0x00000004;
}  // namespace reg

// ---- vCPU event and activity registers [§7.1; HVK hvgdk_mini.h, hvhdk.h] ---------------------------
// Bit fields of u64 registers, as shifts and masks (C++ bit-field order is the compiler's, not the ABI's).
// HV_REGISTER_PENDING_INTERRUPTION (union hv_x64_pending_interruption_register): the event the VP is
// delivering on its next entry.
namespace pending_interruption {
inline constexpr std::uint64_t kPending = 1ULL << 0;
inline constexpr unsigned kTypeShift = 1;  // 3 bits: kType*
inline constexpr std::uint64_t kTypeMask = 0x7;
inline constexpr std::uint64_t kDeliverErrorCode = 1ULL << 4;
inline constexpr unsigned kInstructionLengthShift = 5;  // 4 bits (software events)
inline constexpr std::uint64_t kNestedEvent = 1ULL << 9;
inline constexpr std::uint64_t kReservedMask = 0x3FULL << 10;  // bits 10-15
inline constexpr unsigned kVectorShift = 16;                   // 16 bits
inline constexpr std::uint64_t kVectorMask = 0xFFFF;
inline constexpr unsigned kErrorCodeShift = 32;  // 32 bits
// HV_X64_PENDING_INTERRUPT / _NMI / _EXCEPTION (hvhdk.h)
inline constexpr std::uint64_t kTypeInterrupt = 0, kTypeNmi = 2, kTypeException = 3;
}  // namespace pending_interruption
// HV_REGISTER_INTERRUPT_STATE (union hv_x64_interrupt_state_register).
namespace interrupt_state {
inline constexpr std::uint64_t kInterruptShadow = 1ULL << 0, kNmiMasked = 1ULL << 1;
inline constexpr std::uint64_t kReservedMask = ~0x3ULL;
}  // namespace interrupt_state
// HV_REGISTER_INTERNAL_ACTIVITY_STATE (union hv_internal_activity_register).
namespace internal_activity {
inline constexpr std::uint64_t kStartupSuspend = 1ULL << 0, kHaltSuspend = 1ULL << 1, kIdleSuspend = 1ULL << 2;
inline constexpr std::uint64_t kReservedMask = ~0x7ULL;
}  // namespace internal_activity
// HV_REGISTER_PENDING_EVENT0/1 (union hv_x64_pending_exception_event, 128 bits): bit 0 of the low u64
// is event_pending, bits 1-3 event_type.
namespace pending_event {
inline constexpr std::uint64_t kPending = 1ULL << 0;
}  // namespace pending_event
static_assert(pending_interruption::kReservedMask == 0xFC00ULL);
static_assert((pending_interruption::kPending | (pending_interruption::kTypeMask << pending_interruption::kTypeShift) |
               pending_interruption::kDeliverErrorCode | (0xFULL << pending_interruption::kInstructionLengthShift) |
               pending_interruption::kNestedEvent | pending_interruption::kReservedMask |
               (pending_interruption::kVectorMask << pending_interruption::kVectorShift)) == 0xFFFFFFFFULL,
              "the pending-interruption fields tile the low 32 bits");

// ---- Intercept messages [§9] ---------------------------------------------------------------------
struct HvMessageHeader {
  std::uint32_t message_type;
  std::uint8_t payload_size;
  std::uint8_t flags;  // bit 0: message pending
  std::uint8_t rsvd[2];
  std::uint64_t sender;
};
inline constexpr std::size_t kMessagePayloadSize = 240;
struct HvMessage {
  HvMessageHeader header;
  std::uint8_t payload[kMessagePayloadSize];
};
inline constexpr std::uint32_t kMsgNone = 0x00000000, kMsgUnmappedGpa = 0x80000000, kMsgGpaIntercept = 0x80000001,
                               kMsgTimerExpired = 0x80000010, kMsgInvalidVpRegisterValue = 0x80000020,
                               kMsgUnrecoverableException = 0x80000021, kMsgUnsupportedFeature = 0x80000022,
                               kMsgX64IoPortIntercept = 0x80010000, kMsgX64MsrIntercept = 0x80010001,
                               kMsgX64CpuidIntercept = 0x80010002, kMsgX64ExceptionIntercept = 0x80010003,
                               kMsgX64ApicEoi = 0x80010004, kMsgX64Halt = 0x80010007;

struct HvInterceptHeader {  // hv_x64_intercept_message_header: the first 40 payload bytes
  std::uint32_t vp_index;
  std::uint8_t instruction_length_and_cr8;  // bits 0-3 instruction length, 4-7 CR8
  std::uint8_t intercept_access_type;       // kAccess*
  std::uint16_t execution_state;            // bit 2 CR0.PE, bit 4 EFER.LMA, ...
  HvSegmentRegister cs;
  std::uint64_t rip;  // of the intercepted instruction, not advanced
  std::uint64_t rflags;
};
inline constexpr std::uint8_t kAccessRead = 0, kAccessWrite = 1, kAccessExecute = 2;
// hv_x64_vp_execution_state (Linux include/hyperv/hvhdk.h): bits 0-1 CPL, 2 CR0.PE, 3 CR0.AM, 4 EFER.LMA,
// 5 debug active, 6 interruption pending (the intercept happened while an event was being delivered).
inline constexpr std::uint16_t kExecStateCr0Pe = 1U << 2, kExecStateEferLma = 1U << 4,
                               kExecStateInterruptionPending = 1U << 6;

struct HvIoPortIntercept {  // HVMSG_X64_IO_PORT_INTERCEPT payload (128 bytes)
  HvInterceptHeader header;
  std::uint16_t port_number;
  std::uint8_t access_info;  // bits 0-2 access size (1, 2, 4), bit 3 string, bit 4 REP
  std::uint8_t instruction_byte_count;
  std::uint32_t rsvd;
  std::uint64_t rax;
  std::uint8_t instruction_bytes[16];
  HvSegmentRegister ds;
  HvSegmentRegister es;
  std::uint64_t rcx;
  std::uint64_t rsi;
  std::uint64_t rdi;
};
inline constexpr std::uint8_t kIoAccessSizeMask = 0x7, kIoAccessString = 1U << 3, kIoAccessRep = 1U << 4;

struct HvMemoryIntercept {  // HVMSG_UNMAPPED_GPA / HVMSG_GPA_INTERCEPT payload (80 bytes)
  HvInterceptHeader header;
  std::uint32_t cache_type;
  std::uint8_t instruction_byte_count;
  std::uint8_t memory_access_info;  // bit 0 GVA valid, bit 1 GVA->GPA valid
  std::uint8_t tpr_priority;
  std::uint8_t rsvd;
  std::uint64_t guest_virtual_address;
  std::uint64_t guest_physical_address;
  std::uint8_t instruction_bytes[16];
};
inline constexpr std::uint8_t kMemoryAccessGvaValid = 1U << 0, kMemoryAccessGvaGpaValid = 1U << 1;

struct HvApicEoi {  // HVMSG_X64_APIC_EOI payload: no intercept header
  std::uint32_t vp_index;
  std::uint32_t interrupt_vector;
};

static_assert(sizeof(HvMessageHeader) == 16 && offsetof(HvMessageHeader, payload_size) == 4 &&
              offsetof(HvMessageHeader, flags) == 5 && offsetof(HvMessageHeader, sender) == 8);
static_assert(sizeof(HvMessage) == kRunVpBufferSize);
static_assert(sizeof(HvInterceptHeader) == 40 && offsetof(HvInterceptHeader, instruction_length_and_cr8) == 4 &&
              offsetof(HvInterceptHeader, intercept_access_type) == 5 &&
              offsetof(HvInterceptHeader, execution_state) == 6 && offsetof(HvInterceptHeader, cs) == 8 &&
              offsetof(HvInterceptHeader, rip) == 24 && offsetof(HvInterceptHeader, rflags) == 32);
static_assert(sizeof(HvIoPortIntercept) == 128 && offsetof(HvIoPortIntercept, port_number) == 40 &&
              offsetof(HvIoPortIntercept, access_info) == 42 &&
              offsetof(HvIoPortIntercept, instruction_byte_count) == 43 && offsetof(HvIoPortIntercept, rax) == 48 &&
              offsetof(HvIoPortIntercept, instruction_bytes) == 56 && offsetof(HvIoPortIntercept, ds) == 72 &&
              offsetof(HvIoPortIntercept, es) == 88 && offsetof(HvIoPortIntercept, rcx) == 104 &&
              offsetof(HvIoPortIntercept, rsi) == 112 && offsetof(HvIoPortIntercept, rdi) == 120);
static_assert(sizeof(HvMemoryIntercept) == 80 && offsetof(HvMemoryIntercept, cache_type) == 40 &&
              offsetof(HvMemoryIntercept, instruction_byte_count) == 44 &&
              offsetof(HvMemoryIntercept, memory_access_info) == 45 &&
              offsetof(HvMemoryIntercept, guest_virtual_address) == 48 &&
              offsetof(HvMemoryIntercept, guest_physical_address) == 56 &&
              offsetof(HvMemoryIntercept, instruction_bytes) == 64);
static_assert(sizeof(HvApicEoi) == 8);

// ---- VP state: the LAPIC page [§10.3, RV] -------------------------------------------------------------
struct HvLocalInterruptControllerState {
  std::uint32_t apic_id, version, ldr, dfr, spurious;
  std::uint32_t isr[8], tmr[8], irr[8];
  std::uint32_t esr, icr_high, icr_low;
  std::uint32_t lvt_timer, lvt_thermal, lvt_perfmon, lvt_lint0, lvt_lint1, lvt_error, lvt_cmci;
  std::uint32_t error_status, initial_count, counter_value, divide_configuration, remote_read;
};
static_assert(sizeof(HvLocalInterruptControllerState) == 176 && offsetof(HvLocalInterruptControllerState, isr) == 20 &&
              offsetof(HvLocalInterruptControllerState, tmr) == 52 &&
              offsetof(HvLocalInterruptControllerState, irr) == 84 &&
              offsetof(HvLocalInterruptControllerState, esr) == 116 &&
              offsetof(HvLocalInterruptControllerState, lvt_timer) == 128 &&
              offsetof(HvLocalInterruptControllerState, remote_read) == 172);

}  // namespace hv::mshv::abi
