// Golden byte layouts of the /dev/mshv ABI structs in mshv_abi.hpp, checked against the tables of
// docs/mshv-abi.md (§2, §3, §6, §7, §9, §10.3; [§n] below cites that file) rather than against the
// header itself. The header's static_asserts compare the structs with offsets copied from the same
// document, so a wrong type, a missed field or a misread table would slip past both; here every struct
// is filled field by field, copied out as bytes and compared with a byte array written down from the
// document's offset tables (little-endian). In the struct-to-bytes tests each field holds a value whose
// bytes are its documented offset + 1, so the golden array reads 01 02 03 ... and a failure names the
// byte that moved. The message tests go the other way: a 256-byte RUN_VP buffer written as the kernel
// would (header at 0, payload at 16) is copied into the structs and every field is read back.
// The register page (§10.1) has its own golden tests: mshv_register_page_golden_test.cpp.
#include <array>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

#include "mshv_abi.hpp"

namespace {

namespace abi = hv::mshv::abi;

// ---- Building byte arrays ---------------------------------------------------------------------------

template <std::size_t N>
void put_le(std::array<std::uint8_t, N>& bytes, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) bytes.at(offset + i) = static_cast<std::uint8_t>(value >> (8 * i));
}
template <std::size_t N>
void put8(std::array<std::uint8_t, N>& b, std::size_t off, std::uint8_t v) {
  put_le(b, off, v, 1);
}
template <std::size_t N>
void put16(std::array<std::uint8_t, N>& b, std::size_t off, std::uint16_t v) {
  put_le(b, off, v, 2);
}
template <std::size_t N>
void put32(std::array<std::uint8_t, N>& b, std::size_t off, std::uint32_t v) {
  put_le(b, off, v, 4);
}
template <std::size_t N>
void put64(std::array<std::uint8_t, N>& b, std::size_t off, std::uint64_t v) {
  put_le(b, off, v, 8);
}

// A value whose little-endian bytes are off+1, off+2, ...: the "tag" of a field at documented offset `off`.
constexpr std::uint64_t tag(std::size_t off, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= static_cast<std::uint64_t>((off + 1 + i) & 0xFF) << (8 * i);
  return v;
}
constexpr std::uint8_t tag8(std::size_t off) { return static_cast<std::uint8_t>(tag(off, 1)); }
constexpr std::uint16_t tag16(std::size_t off) { return static_cast<std::uint16_t>(tag(off, 2)); }
constexpr std::uint32_t tag32(std::size_t off) { return static_cast<std::uint32_t>(tag(off, 4)); }
constexpr std::uint64_t tag64(std::size_t off) { return tag(off, 8); }
static_assert(tag32(4) == 0x08070605 && tag64(0) == 0x0807060504030201);

struct HexByte {
  char text[5];
};
HexByte hex(std::uint8_t b) {
  constexpr char digits[] = "0123456789abcdef";
  return {{'0', 'x', digits[b >> 4], digits[b & 0xF], '\0'}};
}

// Compares the bytes of `value` with the golden array. The golden array must itself read 01 02 03 ...
// (every byte written exactly once from the docs/mshv-abi.md table): that catches a slip in the test.
template <typename T, std::size_t N>
::testing::AssertionResult matches_golden(const T& value, const std::array<std::uint8_t, N>& want) {
  for (std::size_t i = 0; i < N; ++i) {
    if (want[i] != static_cast<std::uint8_t>(i + 1)) {
      return ::testing::AssertionFailure() << "test bug: golden byte " << i << " is " << hex(want[i]).text
                                           << " (a reference field was not written down)";
    }
  }
  if (sizeof(T) != N) {
    return ::testing::AssertionFailure() << "sizeof is " << sizeof(T) << ", the reference says " << N;
  }
  std::array<std::uint8_t, N> got{};
  std::memcpy(got.data(), &value, N);
  auto failure = ::testing::AssertionFailure() << "layout differs from the reference:";
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (got[i] == want[i]) continue;
    if (++mismatches <= 16) {
      failure << "\n  byte " << i << ": struct has " << hex(got[i]).text << ", reference wants " << hex(want[i]).text;
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  if (mismatches > 16) failure << "\n  ... and " << (mismatches - 16) << " more bytes";
  return failure;
}

// Fills every byte with a value no field tag uses, so a byte no field covers shows up.
template <typename T>
void poison(T& value) {
  std::memset(&value, 0xEE, sizeof value);
}

// ---- Constants ----------------------------------------------------------------------------------------

TEST(MshvAbiGolden, IoctlRequestNumbers) {  // §2: literal request values
  EXPECT_EQ(abi::kCreatePartition, 0x4010B800u);
  EXPECT_EQ(abi::kInitializePartition, 0x0000B800u);
  EXPECT_EQ(abi::kCreateVp, 0x4004B801u);
  EXPECT_EQ(abi::kSetGuestMemory, 0x4020B802u);
  EXPECT_EQ(abi::kIrqfd, 0x4010B803u);
  EXPECT_EQ(abi::kIoeventfd, 0x4020B804u);
  EXPECT_EQ(abi::kSetMsiRouting, 0x4008B805u);
  EXPECT_EQ(abi::kGetGpapAccessBitmap, 0xC020B806u);
  EXPECT_EQ(abi::kRootHvcall, 0xC020B807u);
  EXPECT_EQ(abi::kRunVp, 0x8100B800u);
  EXPECT_EQ(abi::kGetVpState, 0xC010B801u);
  EXPECT_EQ(abi::kSetVpState, 0xC010B802u);
}

TEST(MshvAbiGolden, RegisterNames) {  // §7.2
  namespace reg = abi::reg;
  EXPECT_EQ(reg::kRax, 0x00020000u);
  EXPECT_EQ(reg::kRip, 0x00020010u);
  EXPECT_EQ(reg::kRflags, 0x00020011u);
  EXPECT_EQ(reg::kXmm0, 0x00030000u);
  EXPECT_EQ(reg::kFpMmx0, 0x00030010u);
  EXPECT_EQ(reg::kFpControlStatus, 0x00030018u);
  EXPECT_EQ(reg::kXmmControlStatus, 0x00030019u);
  EXPECT_EQ(reg::kCr0, 0x00040000u);
  EXPECT_EQ(reg::kCr2, 0x00040001u);
  EXPECT_EQ(reg::kCr3, 0x00040002u);
  EXPECT_EQ(reg::kCr4, 0x00040003u);
  EXPECT_EQ(reg::kCr8, 0x00040004u);
  EXPECT_EQ(reg::kXfem, 0x00040005u);
  EXPECT_EQ(reg::kDr0, 0x00050000u);
  EXPECT_EQ(reg::kDr1, 0x00050001u);
  EXPECT_EQ(reg::kDr2, 0x00050002u);
  EXPECT_EQ(reg::kDr3, 0x00050003u);
  EXPECT_EQ(reg::kDr6, 0x00050004u);
  EXPECT_EQ(reg::kDr7, 0x00050005u);
  EXPECT_EQ(reg::kEs, 0x00060000u);
  EXPECT_EQ(reg::kCs, 0x00060001u);
  EXPECT_EQ(reg::kSs, 0x00060002u);
  EXPECT_EQ(reg::kDs, 0x00060003u);
  EXPECT_EQ(reg::kFs, 0x00060004u);
  EXPECT_EQ(reg::kGs, 0x00060005u);
  EXPECT_EQ(reg::kLdtr, 0x00060006u);
  EXPECT_EQ(reg::kTr, 0x00060007u);
  EXPECT_EQ(reg::kIdtr, 0x00070000u);
  EXPECT_EQ(reg::kGdtr, 0x00070001u);
  EXPECT_EQ(reg::kTsc, 0x00080000u);
  EXPECT_EQ(reg::kEfer, 0x00080001u);
  EXPECT_EQ(reg::kKernelGsBase, 0x00080002u);
  EXPECT_EQ(reg::kApicBase, 0x00080003u);
  EXPECT_EQ(reg::kPat, 0x00080004u);
  EXPECT_EQ(reg::kSysenterCs, 0x00080005u);
  EXPECT_EQ(reg::kSysenterEip, 0x00080006u);
  EXPECT_EQ(reg::kSysenterEsp, 0x00080007u);
  EXPECT_EQ(reg::kStar, 0x00080008u);
  EXPECT_EQ(reg::kLstar, 0x00080009u);
  EXPECT_EQ(reg::kCstar, 0x0008000Au);
  EXPECT_EQ(reg::kSfmask, 0x0008000Bu);
  EXPECT_EQ(reg::kTscAux, 0x0008007Bu);
  EXPECT_EQ(reg::kPendingInterruption, 0x00010002u);
  EXPECT_EQ(reg::kInterruptState, 0x00010003u);
  EXPECT_EQ(reg::kPendingEvent0, 0x00010004u);
  EXPECT_EQ(reg::kPendingEvent1, 0x00010005u);
  EXPECT_EQ(reg::kInternalActivityState, 0x00000004u);
}

// §7.1: the u64 event and activity registers, built from the header's shifts and masks and compared
// with values written down from the document's bit tables.
TEST(MshvAbiGolden, PendingInterruptionBits) {
  namespace pi = abi::pending_interruption;
  // #GP (13) with error code 0x1234: bit 0 pending, type 3 in bits 1-3, bit 4 error code valid,
  // vector in 16-31, error code in 32-63.
  const std::uint64_t gp = pi::kPending | (pi::kTypeException << pi::kTypeShift) | pi::kDeliverErrorCode |
                           (std::uint64_t{13} << pi::kVectorShift) | (std::uint64_t{0x1234} << pi::kErrorCodeShift);
  EXPECT_EQ(gp, 0x00001234000D0017u);
  EXPECT_EQ(pi::kPending | (pi::kTypeNmi << pi::kTypeShift) | (std::uint64_t{2} << pi::kVectorShift), 0x00020005u);
  EXPECT_EQ(pi::kPending | (pi::kTypeInterrupt << pi::kTypeShift) | (std::uint64_t{0x41} << pi::kVectorShift),
            0x00410001u);
  EXPECT_EQ(std::uint64_t{0xF} << pi::kInstructionLengthShift, 0x1E0u);  // bits 5-8
  EXPECT_EQ(pi::kNestedEvent, 0x200u);                                   // bit 9
  EXPECT_EQ(pi::kTypeInterrupt, 0u);
  EXPECT_EQ(pi::kTypeNmi, 2u);
  EXPECT_EQ(pi::kTypeException, 3u);
}

TEST(MshvAbiGolden, InterruptStateAndInternalActivityBits) {
  EXPECT_EQ(abi::interrupt_state::kInterruptShadow, 0x1u);
  EXPECT_EQ(abi::interrupt_state::kNmiMasked, 0x2u);
  EXPECT_EQ(abi::interrupt_state::kReservedMask, ~std::uint64_t{3});
  EXPECT_EQ(abi::internal_activity::kStartupSuspend, 0x1u);
  EXPECT_EQ(abi::internal_activity::kHaltSuspend, 0x2u);
  EXPECT_EQ(abi::internal_activity::kIdleSuspend, 0x4u);
  EXPECT_EQ(abi::internal_activity::kReservedMask, ~std::uint64_t{7});
  EXPECT_EQ(abi::pending_event::kPending, 0x1u);
}

TEST(MshvAbiGolden, UapiFlagValues) {  // §1, §3.1, §3.2
  EXPECT_EQ(abi::kIoctlType, 0xB8u);
  EXPECT_EQ(abi::kPtBitLapic, 0u);
  EXPECT_EQ(abi::kPtBitX2apic, 1u);
  EXPECT_EQ(abi::kPtBitGpaSuperPages, 2u);
  EXPECT_EQ(abi::kPtBitCpuAndXsaveFeatures, 3u);
  EXPECT_EQ(abi::kPtFlagsMask618, 0x7u);  // MSHV_PT_BIT_COUNT = 3 in 6.15-6.18
  EXPECT_EQ(abi::kPtIsolationNone, 0u);
  EXPECT_EQ(abi::kSetMemBitWritable, 0u);
  EXPECT_EQ(abi::kSetMemBitExecutable, 1u);
  EXPECT_EQ(abi::kSetMemBitUnmap, 2u);
  EXPECT_EQ(abi::kSetMemFlagsMask, 0x7u);
  EXPECT_EQ(abi::kIrqfdBitDeassign, 0u);
  EXPECT_EQ(abi::kIrqfdBitResample, 1u);
  EXPECT_EQ(abi::kIoeventfdBitDatamatch, 0u);
  EXPECT_EQ(abi::kIoeventfdBitPio, 1u);
  EXPECT_EQ(abi::kIoeventfdBitDeassign, 2u);
  EXPECT_EQ(abi::kGpapAccessTypeAccessed, 0u);
  EXPECT_EQ(abi::kGpapAccessTypeDirty, 1u);
  EXPECT_EQ(abi::kGpapAccessOpNoop, 0u);
  EXPECT_EQ(abi::kGpapAccessOpClear, 1u);
  EXPECT_EQ(abi::kGpapAccessOpSet, 2u);
  EXPECT_EQ(abi::kVpStateLapic, 0u);
  EXPECT_EQ(abi::kVpStateXsave, 1u);
  EXPECT_EQ(abi::kVpStateSimp, 2u);
  EXPECT_EQ(abi::kVpStateSiefp, 3u);
  EXPECT_EQ(abi::kVpStateSyntheticTimers, 4u);
  EXPECT_EQ(abi::kVpStateCount, 5u);
  EXPECT_EQ(abi::kRunVpBufferSize, 256u);
  EXPECT_EQ(abi::kMaxVps, 256u);
  EXPECT_EQ(abi::kMaxGuestIrqs, 4096u);
}

TEST(MshvAbiGolden, HypercallCodesStatusesAndProperties) {  // §5, §6, §8
  EXPECT_EQ(abi::kHvcallGetPartitionProperty, 0x0044u);
  EXPECT_EQ(abi::kHvcallSetPartitionProperty, 0x0045u);
  EXPECT_EQ(abi::kHvcallInstallIntercept, 0x004Du);
  EXPECT_EQ(abi::kHvcallGetVpRegisters, 0x0050u);
  EXPECT_EQ(abi::kHvcallSetVpRegisters, 0x0051u);
  EXPECT_EQ(abi::kHvcallTranslateVirtualAddress, 0x0052u);
  EXPECT_EQ(abi::kHvcallClearVirtualInterrupt, 0x0056u);
  EXPECT_EQ(abi::kHvcallRegisterInterceptResult, 0x0091u);
  EXPECT_EQ(abi::kHvcallAssertVirtualInterrupt, 0x0094u);
  EXPECT_EQ(abi::kHvcallSignalEventDirect, 0x00C0u);
  EXPECT_EQ(abi::kHvcallPostMessageDirect, 0x00C1u);
  EXPECT_EQ(abi::kHvcallGetGpaPagesAccessStates, 0x00C9u);
  EXPECT_EQ(abi::kHvcallGetVpCpuidValues, 0x00F4u);
  EXPECT_EQ(abi::kHvcallGetPartitionPropertyEx, 0x0101u);

  EXPECT_EQ(abi::kHvStatusSuccess, 0x0u);
  EXPECT_EQ(abi::kHvStatusInvalidHypercallCode, 0x2u);
  EXPECT_EQ(abi::kHvStatusInvalidHypercallInput, 0x3u);
  EXPECT_EQ(abi::kHvStatusInvalidAlignment, 0x4u);
  EXPECT_EQ(abi::kHvStatusInvalidParameter, 0x5u);
  EXPECT_EQ(abi::kHvStatusAccessDenied, 0x6u);
  EXPECT_EQ(abi::kHvStatusInvalidPartitionState, 0x7u);
  EXPECT_EQ(abi::kHvStatusOperationDenied, 0x8u);
  EXPECT_EQ(abi::kHvStatusUnknownProperty, 0x9u);
  EXPECT_EQ(abi::kHvStatusPropertyValueOutOfRange, 0xAu);
  EXPECT_EQ(abi::kHvStatusInsufficientMemory, 0xBu);
  EXPECT_EQ(abi::kHvStatusInvalidPartitionId, 0xDu);
  EXPECT_EQ(abi::kHvStatusInvalidVpIndex, 0xEu);
  EXPECT_EQ(abi::kHvStatusNotFound, 0x10u);
  EXPECT_EQ(abi::kHvStatusInvalidVpState, 0x15u);
  EXPECT_EQ(abi::kHvStatusInvalidRegisterValue, 0x50u);

  EXPECT_EQ(abi::kInterruptTypeFixed, 0u);
  EXPECT_EQ(abi::kInterruptTypeLowestPriority, 1u);
  EXPECT_EQ(abi::kInterruptTypeNmi, 4u);
  EXPECT_EQ(abi::kInterruptControlLevel, 0x1'0000'0000u);    // bit 32
  EXPECT_EQ(abi::kInterruptControlLogical, 0x2'0000'0000u);  // bit 33
  EXPECT_EQ(abi::kTranslateValidateRead, 0x1u);
  EXPECT_EQ(abi::kTranslateValidateWrite, 0x2u);
  EXPECT_EQ(abi::kTranslateValidateExecute, 0x4u);
  EXPECT_EQ(abi::kTranslatePrivilegeExempt, 0x8u);
  EXPECT_EQ(abi::kTranslateResultSuccess, 0u);
  EXPECT_EQ(abi::kTranslateResultPageNotPresent, 1u);
  EXPECT_EQ(abi::kTranslateResultPrivilegeViolation, 2u);
  EXPECT_EQ(abi::kTranslateResultGpaUnmapped, 4u);

  EXPECT_EQ(abi::kPropertySyntheticProcFeatures, 0x00010001u);
  EXPECT_EQ(abi::kPropertyTimeFreeze, 0x00030003u);
  EXPECT_EQ(abi::kPropertyGpaPageAccessTracking, 0x00050005u);
  EXPECT_EQ(abi::kPropertyUnimplementedMsrAction, 0x00050017u);
  EXPECT_EQ(abi::kPropertyMaxXsaveDataSize, 0x00060008u);
}

TEST(MshvAbiGolden, MessageTypesAndInterceptBits) {  // §9.1-§9.5
  EXPECT_EQ(abi::kMessagePayloadSize, 240u);
  EXPECT_EQ(abi::kMsgNone, 0x00000000u);
  EXPECT_EQ(abi::kMsgUnmappedGpa, 0x80000000u);
  EXPECT_EQ(abi::kMsgGpaIntercept, 0x80000001u);
  EXPECT_EQ(abi::kMsgTimerExpired, 0x80000010u);
  EXPECT_EQ(abi::kMsgInvalidVpRegisterValue, 0x80000020u);
  EXPECT_EQ(abi::kMsgUnrecoverableException, 0x80000021u);
  EXPECT_EQ(abi::kMsgUnsupportedFeature, 0x80000022u);
  EXPECT_EQ(abi::kMsgX64IoPortIntercept, 0x80010000u);
  EXPECT_EQ(abi::kMsgX64MsrIntercept, 0x80010001u);
  EXPECT_EQ(abi::kMsgX64CpuidIntercept, 0x80010002u);
  EXPECT_EQ(abi::kMsgX64ExceptionIntercept, 0x80010003u);
  EXPECT_EQ(abi::kMsgX64ApicEoi, 0x80010004u);
  EXPECT_EQ(abi::kMsgX64Halt, 0x80010007u);
  EXPECT_EQ(abi::kAccessRead, 0u);
  EXPECT_EQ(abi::kAccessWrite, 1u);
  EXPECT_EQ(abi::kAccessExecute, 2u);
  EXPECT_EQ(abi::kExecStateCr0Pe, 1u << 2);
  EXPECT_EQ(abi::kExecStateEferLma, 1u << 4);
  EXPECT_EQ(abi::kExecStateInterruptionPending, 1u << 6);  // hvhdk.h hv_x64_vp_execution_state
  EXPECT_EQ(abi::kIoAccessSizeMask, 0x7u);
  EXPECT_EQ(abi::kIoAccessString, 1u << 3);
  EXPECT_EQ(abi::kIoAccessRep, 1u << 4);
  EXPECT_EQ(abi::kMemoryAccessGvaValid, 1u << 0);
  EXPECT_EQ(abi::kMemoryAccessGvaGpaValid, 1u << 1);
}

// ---- UAPI structs [§3] -------------------------------------------------------------------------------

TEST(MshvAbiGolden, CreatePartition) {  // §3.1 mshv_create_partition, 16 bytes
  abi::CreatePartition s;
  poison(s);
  s.pt_flags = tag64(0);
  s.pt_isolation = tag64(8);

  std::array<std::uint8_t, 16> want{};
  put64(want, 0, tag64(0));  // pt_flags u64
  put64(want, 8, tag64(8));  // pt_isolation u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, CreateVp) {  // §3.2 mshv_create_vp, 4 bytes
  abi::CreateVp s;
  poison(s);
  s.vp_index = tag32(0);

  std::array<std::uint8_t, 4> want{};
  put32(want, 0, tag32(0));  // vp_index u32
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, UserMemRegion) {  // §3.2 mshv_user_mem_region, 32 bytes
  abi::UserMemRegion s;
  poison(s);
  s.size = tag64(0);
  s.guest_pfn = tag64(8);
  s.userspace_addr = tag64(16);
  s.flags = tag8(24);
  for (std::size_t i = 0; i < 7; ++i) s.rsvd[i] = tag8(25 + i);

  std::array<std::uint8_t, 32> want{};
  put64(want, 0, tag64(0));                                              // size u64
  put64(want, 8, tag64(8));                                              // guest_pfn u64
  put64(want, 16, tag64(16));                                            // userspace_addr u64
  put8(want, 24, tag8(24));                                              // flags u8
  for (std::size_t i = 0; i < 7; ++i) put8(want, 25 + i, tag8(25 + i));  // rsvd[7] u8
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, UserIrqfd) {  // §3.2 mshv_user_irqfd, 16 bytes
  abi::UserIrqfd s;
  poison(s);
  s.fd = static_cast<std::int32_t>(tag32(0));
  s.resamplefd = static_cast<std::int32_t>(tag32(4));
  s.gsi = tag32(8);
  s.flags = tag32(12);

  std::array<std::uint8_t, 16> want{};
  put32(want, 0, tag32(0));    // fd s32
  put32(want, 4, tag32(4));    // resamplefd s32
  put32(want, 8, tag32(8));    // gsi u32
  put32(want, 12, tag32(12));  // flags u32
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, UserIoeventfd) {  // §3.2 mshv_user_ioeventfd, 32 bytes
  abi::UserIoeventfd s;
  poison(s);
  s.datamatch = tag64(0);
  s.addr = tag64(8);
  s.len = tag32(16);
  s.fd = static_cast<std::int32_t>(tag32(20));
  s.flags = tag32(24);
  for (std::size_t i = 0; i < 4; ++i) s.rsvd[i] = tag8(28 + i);

  std::array<std::uint8_t, 32> want{};
  put64(want, 0, tag64(0));                                              // datamatch u64
  put64(want, 8, tag64(8));                                              // addr u64
  put32(want, 16, tag32(16));                                            // len u32
  put32(want, 20, tag32(20));                                            // fd s32
  put32(want, 24, tag32(24));                                            // flags u32
  for (std::size_t i = 0; i < 4; ++i) put8(want, 28 + i, tag8(28 + i));  // rsvd[4] u8
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, UserIrqEntry) {  // §3.2 mshv_user_irq_entry, 16 bytes
  abi::UserIrqEntry s;
  poison(s);
  s.gsi = tag32(0);
  s.address_lo = tag32(4);
  s.address_hi = tag32(8);
  s.data = tag32(12);

  std::array<std::uint8_t, 16> want{};
  put32(want, 0, tag32(0));    // gsi u32
  put32(want, 4, tag32(4));    // address_lo u32
  put32(want, 8, tag32(8));    // address_hi u32
  put32(want, 12, tag32(12));  // data u32
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, UserIrqTableHeader) {  // §3.2 mshv_user_irq_table header, 8 bytes
  abi::UserIrqTableHeader s;
  poison(s);
  s.nr = tag32(0);
  s.rsvd = tag32(4);

  std::array<std::uint8_t, 8> want{};
  put32(want, 0, tag32(0));  // nr u32
  put32(want, 4, tag32(4));  // rsvd u32
  EXPECT_TRUE(matches_golden(s, want));
}

// The SET_MSI_ROUTING argument as a backend builds it (header, then entries packed behind it by sizeof)
// must put entries[] at 8 with a 16-byte stride (§3.2: 8 + 16·nr bytes).
TEST(MshvAbiGolden, UserIrqTableWithEntries) {
  abi::UserIrqTableHeader header;
  poison(header);
  header.nr = tag32(0);
  header.rsvd = tag32(4);
  abi::UserIrqEntry entries[2];
  poison(entries);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::size_t base = 8 + 16 * i;
    entries[i].gsi = tag32(base);
    entries[i].address_lo = tag32(base + 4);
    entries[i].address_hi = tag32(base + 8);
    entries[i].data = tag32(base + 12);
  }
  struct Buffer {
    std::uint8_t bytes[sizeof(abi::UserIrqTableHeader) + 2 * sizeof(abi::UserIrqEntry)];
  } table;
  std::memcpy(table.bytes, &header, sizeof header);
  std::memcpy(table.bytes + sizeof header, entries, sizeof entries);

  std::array<std::uint8_t, 8 + 2 * 16> want{};
  put32(want, 0, tag32(0));  // nr
  put32(want, 4, tag32(4));  // rsvd
  for (std::size_t i = 0; i < 2; ++i) {
    const std::size_t base = 8 + 16 * i;  // entries[i]
    put32(want, base + 0, tag32(base + 0));
    put32(want, base + 4, tag32(base + 4));
    put32(want, base + 8, tag32(base + 8));
    put32(want, base + 12, tag32(base + 12));
  }
  EXPECT_TRUE(matches_golden(table, want));
}

TEST(MshvAbiGolden, GpapAccessBitmap) {  // §3.2 mshv_gpap_access_bitmap, 32 bytes
  abi::GpapAccessBitmap s;
  poison(s);
  s.access_type = tag8(0);
  s.access_op = tag8(1);
  for (std::size_t i = 0; i < 6; ++i) s.rsvd[i] = tag8(2 + i);
  s.page_count = tag64(8);
  s.gpap_base = tag64(16);
  s.bitmap_ptr = tag64(24);

  std::array<std::uint8_t, 32> want{};
  put8(want, 0, tag8(0));                                              // access_type u8
  put8(want, 1, tag8(1));                                              // access_op u8
  for (std::size_t i = 0; i < 6; ++i) put8(want, 2 + i, tag8(2 + i));  // rsvd[6]
  put64(want, 8, tag64(8));                                            // page_count u64
  put64(want, 16, tag64(16));                                          // gpap_base u64
  put64(want, 24, tag64(24));                                          // bitmap_ptr u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, RootHvcall) {  // §3.2 mshv_root_hvcall, 32 bytes
  abi::RootHvcall s;
  poison(s);
  s.code = tag16(0);
  s.reps = tag16(2);
  s.in_sz = tag16(4);
  s.out_sz = tag16(6);
  s.status = tag16(8);
  for (std::size_t i = 0; i < 6; ++i) s.rsvd[i] = tag8(10 + i);
  s.in_ptr = tag64(16);
  s.out_ptr = tag64(24);

  std::array<std::uint8_t, 32> want{};
  put16(want, 0, tag16(0));                                              // code u16
  put16(want, 2, tag16(2));                                              // reps u16
  put16(want, 4, tag16(4));                                              // in_sz u16
  put16(want, 6, tag16(6));                                              // out_sz u16
  put16(want, 8, tag16(8));                                              // status u16
  for (std::size_t i = 0; i < 6; ++i) put8(want, 10 + i, tag8(10 + i));  // rsvd[6]
  put64(want, 16, tag64(16));                                            // in_ptr u64
  put64(want, 24, tag64(24));                                            // out_ptr u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, RunVp) {  // §3.2 mshv_run_vp, 256 bytes: msg_buf[256] at 0
  abi::RunVp s;
  poison(s);
  for (std::size_t i = 0; i < 256; ++i) s.msg_buf[i] = tag8(i);

  std::array<std::uint8_t, 256> want{};
  for (std::size_t i = 0; i < 256; ++i) put8(want, i, tag8(i));
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, GetSetVpState) {  // §3.2 mshv_get_set_vp_state, 16 bytes
  abi::GetSetVpState s;
  poison(s);
  s.type = tag8(0);
  for (std::size_t i = 0; i < 3; ++i) s.rsvd[i] = tag8(1 + i);
  s.buf_sz = tag32(4);
  s.buf_ptr = tag64(8);

  std::array<std::uint8_t, 16> want{};
  put8(want, 0, tag8(0));                                              // type u8
  for (std::size_t i = 0; i < 3; ++i) put8(want, 1 + i, tag8(1 + i));  // rsvd[3]
  put32(want, 4, tag32(4));                                            // buf_sz u32
  put64(want, 8, tag64(8));                                            // buf_ptr u64
  EXPECT_TRUE(matches_golden(s, want));
}

// ---- Hypercall inputs and outputs [§6] ----------------------------------------------------------------

TEST(MshvAbiGolden, HvInputVpRegistersHeader) {  // §6 hv_input_get/set_vp_registers header, 16 bytes
  abi::HvInputVpRegistersHeader s;
  poison(s);
  s.partition_id = tag64(0);
  s.vp_index = tag32(8);
  s.input_vtl = tag8(12);
  s.rsvd8 = tag8(13);
  s.rsvd16 = tag16(14);

  std::array<std::uint8_t, 16> want{};
  put64(want, 0, tag64(0));    // partition_id u64
  put32(want, 8, tag32(8));    // vp_index u32
  put8(want, 12, tag8(12));    // input_vtl u8
  put8(want, 13, tag8(13));    // rsvd u8
  put16(want, 14, tag16(14));  // rsvd u16
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvRegisterAssoc) {  // §6 hv_register_assoc, 32 bytes; §7.1 value: low @0, high @8
  abi::HvRegisterAssoc s;
  poison(s);
  s.name = tag32(0);
  s.reserved1 = tag32(4);
  s.reserved2 = tag64(8);
  s.value.low = tag64(16);
  s.value.high = tag64(24);

  std::array<std::uint8_t, 32> want{};
  put32(want, 0, tag32(0));    // name u32
  put32(want, 4, tag32(4));    // reserved u32
  put64(want, 8, tag64(8));    // reserved u64
  put64(want, 16, tag64(16));  // value: reg128.low
  put64(want, 24, tag64(24));  // value: reg128.high
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvInputGetPartitionProperty) {  // §6, 16 bytes
  abi::HvInputGetPartitionProperty s;
  poison(s);
  s.partition_id = tag64(0);
  s.property_code = tag32(8);
  s.padding = tag32(12);

  std::array<std::uint8_t, 16> want{};
  put64(want, 0, tag64(0));    // partition_id
  put32(want, 8, tag32(8));    // property_code u32
  put32(want, 12, tag32(12));  // padding u32
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvInputSetPartitionProperty) {  // §6, 24 bytes
  abi::HvInputSetPartitionProperty s;
  poison(s);
  s.partition_id = tag64(0);
  s.property_code = tag32(8);
  s.padding = tag32(12);
  s.property_value = tag64(16);

  std::array<std::uint8_t, 24> want{};
  put64(want, 0, tag64(0));    // partition_id
  put32(want, 8, tag32(8));    // property_code u32
  put32(want, 12, tag32(12));  // padding
  put64(want, 16, tag64(16));  // property_value u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvInputAssertVirtualInterrupt) {  // §6, 32 bytes
  abi::HvInputAssertVirtualInterrupt s;
  poison(s);
  s.partition_id = tag64(0);
  s.control = tag64(8);
  s.dest_addr = tag64(16);
  s.vector = tag32(24);
  s.target_vtl = tag8(28);
  s.rsvd8 = tag8(29);
  s.rsvd16 = tag16(30);

  std::array<std::uint8_t, 32> want{};
  put64(want, 0, tag64(0));    // partition_id
  put64(want, 8, tag64(8));    // control u64
  put64(want, 16, tag64(16));  // dest_addr u64
  put32(want, 24, tag32(24));  // vector u32
  put8(want, 28, tag8(28));    // target_vtl u8
  put8(want, 29, tag8(29));    // rsvd u8
  put16(want, 30, tag16(30));  // rsvd u16
  EXPECT_TRUE(matches_golden(s, want));
}

// Linux include/hyperv/hvhdk.h: hv_input_register_intercept_result (__packed) with
// hv_register_x64_cpuid_result_parameters at +16; 60 bytes.
TEST(MshvAbiGolden, HvInputRegisterInterceptResultForCpuid) {
  abi::HvInputRegisterInterceptResult s;
  poison(s);
  s.partition_id = tag64(0);
  s.vp_index = tag32(8);
  s.intercept_type = tag32(12);
  s.parameters.input_eax = tag32(16);
  s.parameters.input_ecx = tag32(20);
  s.parameters.subleaf_specific = tag8(24);
  s.parameters.always_override = tag8(25);
  s.parameters.padding = tag16(26);
  s.parameters.eax = tag32(28);
  s.parameters.eax_mask = tag32(32);
  s.parameters.ebx = tag32(36);
  s.parameters.ebx_mask = tag32(40);
  s.parameters.ecx = tag32(44);
  s.parameters.ecx_mask = tag32(48);
  s.parameters.edx = tag32(52);
  s.parameters.edx_mask = tag32(56);

  std::array<std::uint8_t, 60> want{};
  put64(want, 0, tag64(0));                                                     // partition_id
  put32(want, 8, tag32(8));                                                     // vp_index
  put32(want, 12, tag32(12));                                                   // intercept_type
  put32(want, 16, tag32(16));                                                   // input.eax (leaf)
  put32(want, 20, tag32(20));                                                   // input.ecx (subleaf)
  put8(want, 24, tag8(24));                                                     // input.subleaf_specific
  put8(want, 25, tag8(25));                                                     // input.always_override
  put16(want, 26, tag16(26));                                                   // input.padding
  for (std::size_t off = 28; off < 60; off += 4) put32(want, off, tag32(off));  // eax, eax_mask, ... edx_mask
  EXPECT_TRUE(matches_golden(s, want));
  EXPECT_EQ(abi::kInterceptTypeX64Cpuid, 2u);
  EXPECT_EQ(abi::kUnimplementedMsrActionIgnoreWriteReadZero, 1u);
}

TEST(MshvAbiGolden, HvInputTranslateVirtualAddress) {  // §6, 32 bytes
  abi::HvInputTranslateVirtualAddress s;
  poison(s);
  s.partition_id = tag64(0);
  s.vp_index = tag32(8);
  s.padding = tag32(12);
  s.control_flags = tag64(16);
  s.gva_page = tag64(24);

  std::array<std::uint8_t, 32> want{};
  put64(want, 0, tag64(0));    // partition_id
  put32(want, 8, tag32(8));    // vp_index u32
  put32(want, 12, tag32(12));  // padding
  put64(want, 16, tag64(16));  // control_flags u64
  put64(want, 24, tag64(24));  // gva_page u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvOutputTranslateVirtualAddress) {  // §6, 16 bytes
  abi::HvOutputTranslateVirtualAddress s;
  poison(s);
  s.result_code = tag32(0);
  s.cache_type_and_overlay = tag32(4);
  s.gpa_page = tag64(8);

  std::array<std::uint8_t, 16> want{};
  put32(want, 0, tag32(0));  // result_code u32
  put32(want, 4, tag32(4));  // cache_type bits 0-7, overlay_page bit 8 (u32)
  put64(want, 8, tag64(8));  // gpa_page u64
  EXPECT_TRUE(matches_golden(s, want));
}

// ---- Register values [§7.1] ----------------------------------------------------------------------------

TEST(MshvAbiGolden, HvSegmentRegister) {  // §7.1 hv_x64_segment_register, 16 bytes
  abi::HvSegmentRegister s;
  poison(s);
  s.base = tag64(0);
  s.limit = tag32(8);
  s.selector = tag16(12);
  s.attributes = tag16(14);

  std::array<std::uint8_t, 16> want{};
  put64(want, 0, tag64(0));    // base u64
  put32(want, 8, tag32(8));    // limit u32
  put16(want, 12, tag16(12));  // selector u16
  put16(want, 14, tag16(14));  // attributes u16
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvTableRegister) {  // §7.1 hv_x64_table_register, 16 bytes
  abi::HvTableRegister s;
  poison(s);
  for (std::size_t i = 0; i < 3; ++i) s.pad[i] = tag16(2 * i);
  s.limit = tag16(6);
  s.base = tag64(8);

  std::array<std::uint8_t, 16> want{};
  for (std::size_t i = 0; i < 3; ++i) put16(want, 2 * i, tag16(2 * i));  // pad[3] u16
  put16(want, 6, tag16(6));                                              // limit u16
  put64(want, 8, tag64(8));                                              // base u64
  EXPECT_TRUE(matches_golden(s, want));
}

// Linux include/hyperv/hvgdk_mini.h: union hv_x64_fp_control_status_register (fp_control u16 @0,
// fp_status u16 @2, fp_tag u8 @4, reserved u8 @5, last_fp_op u16 @6, last_fp_rip u64 @8), as the
// Hyper-V TLFS's HV_X64_FP_CONTROL_STATUS_REGISTER.
TEST(MshvAbiGolden, HvFpControlStatusRegister) {  // 16 bytes
  abi::HvFpControlStatusRegister s;
  poison(s);
  s.fp_control = tag16(0);
  s.fp_status = tag16(2);
  s.fp_tag = tag8(4);
  s.reserved = tag8(5);
  s.last_fp_op = tag16(6);
  s.last_fp_rip = tag64(8);

  std::array<std::uint8_t, 16> want{};
  put16(want, 0, tag16(0));  // fp_control u16
  put16(want, 2, tag16(2));  // fp_status u16
  put8(want, 4, tag8(4));    // fp_tag u8
  put8(want, 5, tag8(5));    // reserved u8
  put16(want, 6, tag16(6));  // last_fp_op u16
  put64(want, 8, tag64(8));  // last_fp_rip u64 (EIP u32 + CS u16 for 32-bit guests)
  EXPECT_TRUE(matches_golden(s, want));
}

// Linux include/hyperv/hvgdk_mini.h: union hv_x64_xmm_control_status_register (last_fp_rdp u64 @0,
// xmm_status_control u32 @8, xmm_status_control_mask u32 @12).
TEST(MshvAbiGolden, HvXmmControlStatusRegister) {  // 16 bytes
  abi::HvXmmControlStatusRegister s;
  poison(s);
  s.last_fp_rdp = tag64(0);
  s.xmm_status_control = tag32(8);
  s.xmm_status_control_mask = tag32(12);

  std::array<std::uint8_t, 16> want{};
  put64(want, 0, tag64(0));    // last_fp_rdp u64
  put32(want, 8, tag32(8));    // xmm_status_control (MXCSR) u32
  put32(want, 12, tag32(12));  // xmm_status_control_mask u32
  EXPECT_TRUE(matches_golden(s, want));
}

// ---- Intercept messages, struct to bytes [§9] --------------------------------------------------------

TEST(MshvAbiGolden, HvMessageHeader) {  // §9.1, 16 bytes
  abi::HvMessageHeader s;
  poison(s);
  s.message_type = tag32(0);
  s.payload_size = tag8(4);
  s.flags = tag8(5);
  s.rsvd[0] = tag8(6);
  s.rsvd[1] = tag8(7);
  s.sender = tag64(8);

  std::array<std::uint8_t, 16> want{};
  put32(want, 0, tag32(0));  // message_type u32
  put8(want, 4, tag8(4));    // payload_size u8
  put8(want, 5, tag8(5));    // flags u8
  put8(want, 6, tag8(6));    // rsvd[2]
  put8(want, 7, tag8(7));
  put64(want, 8, tag64(8));  // sender u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvMessage) {  // §9.1, 256 bytes: 16-byte header, 240-byte payload at 16
  abi::HvMessage s;
  poison(s);
  s.header.message_type = tag32(0);
  s.header.payload_size = tag8(4);
  s.header.flags = tag8(5);
  s.header.rsvd[0] = tag8(6);
  s.header.rsvd[1] = tag8(7);
  s.header.sender = tag64(8);
  for (std::size_t i = 0; i < 240; ++i) s.payload[i] = tag8(16 + i);

  std::array<std::uint8_t, 256> want{};
  put32(want, 0, tag32(0));
  put8(want, 4, tag8(4));
  put8(want, 5, tag8(5));
  put8(want, 6, tag8(6));
  put8(want, 7, tag8(7));
  put64(want, 8, tag64(8));
  for (std::size_t i = 0; i < 240; ++i) put8(want, 16 + i, tag8(16 + i));  // payload
  EXPECT_TRUE(matches_golden(s, want));
}

// Every field of an x64 intercept header (payload offset 0 of each intercept message).
void fill_intercept_header(abi::HvInterceptHeader& h) {
  h.vp_index = tag32(0);
  h.instruction_length_and_cr8 = tag8(4);
  h.intercept_access_type = tag8(5);
  h.execution_state = tag16(6);
  h.cs.base = tag64(8);
  h.cs.limit = tag32(16);
  h.cs.selector = tag16(20);
  h.cs.attributes = tag16(22);
  h.rip = tag64(24);
  h.rflags = tag64(32);
}
// §9.3 + §7.1, written down independently of the struct.
template <std::size_t N>
void put_intercept_header(std::array<std::uint8_t, N>& want) {
  put32(want, 0, tag32(0));    // vp_index u32
  put8(want, 4, tag8(4));      // instruction_length:4 | cr8:4
  put8(want, 5, tag8(5));      // intercept_access_type u8
  put16(want, 6, tag16(6));    // execution_state u16
  put64(want, 8, tag64(8));    // cs.base u64
  put32(want, 16, tag32(16));  // cs.limit u32
  put16(want, 20, tag16(20));  // cs.selector u16
  put16(want, 22, tag16(22));  // cs.attributes u16
  put64(want, 24, tag64(24));  // rip u64
  put64(want, 32, tag64(32));  // rflags u64
}

TEST(MshvAbiGolden, HvInterceptHeader) {  // §9.3, 40 bytes
  abi::HvInterceptHeader s;
  poison(s);
  fill_intercept_header(s);

  std::array<std::uint8_t, 40> want{};
  put_intercept_header(want);
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvIoPortIntercept) {  // §9.4, 128 bytes
  abi::HvIoPortIntercept s;
  poison(s);
  fill_intercept_header(s.header);
  s.port_number = tag16(40);
  s.access_info = tag8(42);
  s.instruction_byte_count = tag8(43);
  s.rsvd = tag32(44);
  s.rax = tag64(48);
  for (std::size_t i = 0; i < 16; ++i) s.instruction_bytes[i] = tag8(56 + i);
  s.ds = {tag64(72), tag32(80), tag16(84), tag16(86)};
  s.es = {tag64(88), tag32(96), tag16(100), tag16(102)};
  s.rcx = tag64(104);
  s.rsi = tag64(112);
  s.rdi = tag64(120);

  std::array<std::uint8_t, 128> want{};
  put_intercept_header(want);
  put16(want, 40, tag16(40));                                             // port_number u16
  put8(want, 42, tag8(42));                                               // access_info u8
  put8(want, 43, tag8(43));                                               // instruction_byte_count u8
  put32(want, 44, tag32(44));                                             // rsvd u32
  put64(want, 48, tag64(48));                                             // rax u64
  for (std::size_t i = 0; i < 16; ++i) put8(want, 56 + i, tag8(56 + i));  // instruction_bytes[16]
  put64(want, 72, tag64(72));                                             // ds.base
  put32(want, 80, tag32(80));                                             // ds.limit
  put16(want, 84, tag16(84));                                             // ds.selector
  put16(want, 86, tag16(86));                                             // ds.attributes
  put64(want, 88, tag64(88));                                             // es.base
  put32(want, 96, tag32(96));                                             // es.limit
  put16(want, 100, tag16(100));                                           // es.selector
  put16(want, 102, tag16(102));                                           // es.attributes
  put64(want, 104, tag64(104));                                           // rcx u64
  put64(want, 112, tag64(112));                                           // rsi u64
  put64(want, 120, tag64(120));                                           // rdi u64
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvMemoryIntercept) {  // §9.5, 80 bytes
  abi::HvMemoryIntercept s;
  poison(s);
  fill_intercept_header(s.header);
  s.cache_type = tag32(40);
  s.instruction_byte_count = tag8(44);
  s.memory_access_info = tag8(45);
  s.tpr_priority = tag8(46);
  s.rsvd = tag8(47);
  s.guest_virtual_address = tag64(48);
  s.guest_physical_address = tag64(56);
  for (std::size_t i = 0; i < 16; ++i) s.instruction_bytes[i] = tag8(64 + i);

  std::array<std::uint8_t, 80> want{};
  put_intercept_header(want);
  put32(want, 40, tag32(40));                                             // cache_type u32
  put8(want, 44, tag8(44));                                               // instruction_byte_count u8
  put8(want, 45, tag8(45));                                               // memory_access_info u8
  put8(want, 46, tag8(46));                                               // tpr_priority u8
  put8(want, 47, tag8(47));                                               // rsvd u8
  put64(want, 48, tag64(48));                                             // guest_virtual_address u64
  put64(want, 56, tag64(56));                                             // guest_physical_address u64
  for (std::size_t i = 0; i < 16; ++i) put8(want, 64 + i, tag8(64 + i));  // instruction_bytes[16]
  EXPECT_TRUE(matches_golden(s, want));
}

TEST(MshvAbiGolden, HvApicEoi) {  // §9.2 X64_APIC_EOI payload, 8 bytes, no intercept header
  abi::HvApicEoi s;
  poison(s);
  s.vp_index = tag32(0);
  s.interrupt_vector = tag32(4);

  std::array<std::uint8_t, 8> want{};
  put32(want, 0, tag32(0));  // vp_index u32
  put32(want, 4, tag32(4));  // interrupt_vector u32
  EXPECT_TRUE(matches_golden(s, want));
}

// ---- VP state [§10.3] ----------------------------------------------------------------------------------

TEST(MshvAbiGolden, HvLocalInterruptControllerState) {  // §10.3, 176 bytes of u32
  abi::HvLocalInterruptControllerState s;
  poison(s);
  s.apic_id = tag32(0);
  s.version = tag32(4);
  s.ldr = tag32(8);
  s.dfr = tag32(12);
  s.spurious = tag32(16);
  for (std::size_t i = 0; i < 8; ++i) {
    s.isr[i] = tag32(20 + 4 * i);
    s.tmr[i] = tag32(52 + 4 * i);
    s.irr[i] = tag32(84 + 4 * i);
  }
  s.esr = tag32(116);
  s.icr_high = tag32(120);
  s.icr_low = tag32(124);
  s.lvt_timer = tag32(128);
  s.lvt_thermal = tag32(132);
  s.lvt_perfmon = tag32(136);
  s.lvt_lint0 = tag32(140);
  s.lvt_lint1 = tag32(144);
  s.lvt_error = tag32(148);
  s.lvt_cmci = tag32(152);
  s.error_status = tag32(156);
  s.initial_count = tag32(160);
  s.counter_value = tag32(164);
  s.divide_configuration = tag32(168);
  s.remote_read = tag32(172);

  std::array<std::uint8_t, 176> want{};
  put32(want, 0, tag32(0));    // apic_id
  put32(want, 4, tag32(4));    // version
  put32(want, 8, tag32(8));    // ldr
  put32(want, 12, tag32(12));  // dfr
  put32(want, 16, tag32(16));  // spurious
  for (std::size_t i = 0; i < 8; ++i) {
    put32(want, 20 + 4 * i, tag32(20 + 4 * i));  // isr[8]
    put32(want, 52 + 4 * i, tag32(52 + 4 * i));  // tmr[8]
    put32(want, 84 + 4 * i, tag32(84 + 4 * i));  // irr[8]
  }
  put32(want, 116, tag32(116));  // esr
  put32(want, 120, tag32(120));  // icr_high
  put32(want, 124, tag32(124));  // icr_low
  put32(want, 128, tag32(128));  // lvt_timer
  put32(want, 132, tag32(132));  // lvt_thermal
  put32(want, 136, tag32(136));  // lvt_perfmon
  put32(want, 140, tag32(140));  // lvt_lint0
  put32(want, 144, tag32(144));  // lvt_lint1
  put32(want, 148, tag32(148));  // lvt_error
  put32(want, 152, tag32(152));  // lvt_cmci
  put32(want, 156, tag32(156));  // error_status
  put32(want, 160, tag32(160));  // initial_count
  put32(want, 164, tag32(164));  // counter_value
  put32(want, 168, tag32(168));  // divide_configuration
  put32(want, 172, tag32(172));  // remote_read
  EXPECT_TRUE(matches_golden(s, want));
}

// ---- Intercept messages, kernel bytes to structs [§9] ------------------------------------------------
// Each buffer is what MSHV_RUN_VP leaves in msg_buf: hv_message header at 0, payload at 16, payload
// fields at 16 + the offset docs/mshv-abi.md gives. Values are realistic and every field differs.

using MessageBytes = std::array<std::uint8_t, 256>;

// §9.1 header at 0; §9.3 intercept header at payload offset 0 (buffer offset 16).
void put_message_with_intercept_header(MessageBytes& buf, std::uint32_t type, std::uint8_t payload_size) {
  put32(buf, 0, type);                      // message_type
  put8(buf, 4, payload_size);               // payload_size
  put8(buf, 5, 0x01);                       // flags: message pending
  put8(buf, 6, 0xA6);                       // rsvd[0]
  put8(buf, 7, 0xA7);                       // rsvd[1]
  put64(buf, 8, 0x0123456789ABCDEFull);     // sender
  put32(buf, 16 + 0, 3);                    // vp_index
  put8(buf, 16 + 4, 0x52);                  // instruction_length 2, cr8 5
  put8(buf, 16 + 5, 1);                     // intercept_access_type: write
  put16(buf, 16 + 6, 0x0015);               // execution_state: CPL 1, CR0.PE, EFER.LMA
  put64(buf, 16 + 8, 0xFFFF0000ABCD0000);   // cs.base
  put32(buf, 16 + 16, 0x000FFFFF);          // cs.limit
  put16(buf, 16 + 20, 0x0008);              // cs.selector
  put16(buf, 16 + 22, 0xA09B);              // cs.attributes
  put64(buf, 16 + 24, 0x00007FFFDEAD1234);  // rip
  put64(buf, 16 + 32, 0x0000000000000246);  // rflags
}

void expect_header_fields(const abi::HvMessage& msg, std::uint32_t type, std::uint8_t payload_size) {
  EXPECT_EQ(msg.header.message_type, type);
  EXPECT_EQ(msg.header.payload_size, payload_size);
  EXPECT_EQ(msg.header.flags, 0x01);
  EXPECT_EQ(msg.header.rsvd[0], 0xA6);
  EXPECT_EQ(msg.header.rsvd[1], 0xA7);
  EXPECT_EQ(msg.header.sender, 0x0123456789ABCDEFull);
}

void expect_intercept_header_fields(const abi::HvInterceptHeader& h) {
  EXPECT_EQ(h.vp_index, 3u);
  EXPECT_EQ(h.instruction_length_and_cr8, 0x52);
  EXPECT_EQ(h.intercept_access_type, 1);
  EXPECT_EQ(h.execution_state, 0x0015);
  EXPECT_EQ(h.cs.base, 0xFFFF0000ABCD0000u);
  EXPECT_EQ(h.cs.limit, 0x000FFFFFu);
  EXPECT_EQ(h.cs.selector, 0x0008);
  EXPECT_EQ(h.cs.attributes, 0xA09B);
  EXPECT_EQ(h.rip, 0x00007FFFDEAD1234u);
  EXPECT_EQ(h.rflags, 0x0000000000000246u);
}

TEST(MshvAbiGolden, IoPortInterceptMessageFromKernelBytes) {  // §9.1 + §9.3 + §9.4
  MessageBytes buf{};
  put_message_with_intercept_header(buf, 0x80010000, 128);
  put16(buf, 16 + 40, 0x03F8);              // port_number
  put8(buf, 16 + 42, 0x19);                 // access_info: size 1, string, rep
  put8(buf, 16 + 43, 2);                    // instruction_byte_count
  put32(buf, 16 + 44, 0x5A5A5A5A);          // rsvd
  put64(buf, 16 + 48, 0x1234567890ABCD41);  // rax
  for (std::size_t i = 0; i < 16; ++i)
    put8(buf, 16 + 56 + i, static_cast<std::uint8_t>(0xC0 + i));  // instruction_bytes
  put8(buf, 16 + 56, 0xF3);                                       // rep
  put8(buf, 16 + 57, 0x6E);                                       // outsb
  put64(buf, 16 + 72, 0x0000100000002000);                        // ds.base
  put32(buf, 16 + 80, 0xFFFFFFFF);                                // ds.limit
  put16(buf, 16 + 84, 0x0010);                                    // ds.selector
  put16(buf, 16 + 86, 0xC093);                                    // ds.attributes
  put64(buf, 16 + 88, 0x0000000000003000);                        // es.base
  put32(buf, 16 + 96, 0x0000FFFF);                                // es.limit
  put16(buf, 16 + 100, 0x0018);                                   // es.selector
  put16(buf, 16 + 102, 0x0093);                                   // es.attributes
  put64(buf, 16 + 104, 5);                                        // rcx
  put64(buf, 16 + 112, 0x0000000000401000);                       // rsi
  put64(buf, 16 + 120, 0x0000000000402000);                       // rdi

  ASSERT_EQ(sizeof(abi::HvMessage), buf.size());
  abi::HvMessage msg;
  std::memcpy(&msg, buf.data(), buf.size());
  expect_header_fields(msg, 0x80010000, 128);
  EXPECT_EQ(msg.header.message_type, abi::kMsgX64IoPortIntercept);

  abi::HvIoPortIntercept io;
  ASSERT_LE(sizeof io, sizeof msg.payload);
  std::memcpy(&io, msg.payload, sizeof io);
  expect_intercept_header_fields(io.header);
  EXPECT_EQ(io.port_number, 0x03F8);
  EXPECT_EQ(io.access_info, 0x19);
  EXPECT_EQ(io.access_info & abi::kIoAccessSizeMask, 1);
  EXPECT_NE(io.access_info & abi::kIoAccessString, 0);
  EXPECT_NE(io.access_info & abi::kIoAccessRep, 0);
  EXPECT_EQ(io.instruction_byte_count, 2);
  EXPECT_EQ(io.rsvd, 0x5A5A5A5Au);
  EXPECT_EQ(io.rax, 0x1234567890ABCD41u);
  EXPECT_EQ(io.instruction_bytes[0], 0xF3);
  EXPECT_EQ(io.instruction_bytes[1], 0x6E);
  for (std::size_t i = 2; i < 16; ++i) EXPECT_EQ(io.instruction_bytes[i], 0xC0 + i) << "instruction byte " << i;
  EXPECT_EQ(io.ds.base, 0x0000100000002000u);
  EXPECT_EQ(io.ds.limit, 0xFFFFFFFFu);
  EXPECT_EQ(io.ds.selector, 0x0010);
  EXPECT_EQ(io.ds.attributes, 0xC093);
  EXPECT_EQ(io.es.base, 0x0000000000003000u);
  EXPECT_EQ(io.es.limit, 0x0000FFFFu);
  EXPECT_EQ(io.es.selector, 0x0018);
  EXPECT_EQ(io.es.attributes, 0x0093);
  EXPECT_EQ(io.rcx, 5u);
  EXPECT_EQ(io.rsi, 0x0000000000401000u);
  EXPECT_EQ(io.rdi, 0x0000000000402000u);
}

TEST(MshvAbiGolden, MemoryInterceptMessageFromKernelBytes) {  // §9.1 + §9.3 + §9.5
  MessageBytes buf{};
  put_message_with_intercept_header(buf, 0x80000000, 80);
  put32(buf, 16 + 40, 6);                   // cache_type: WB
  put8(buf, 16 + 44, 3);                    // instruction_byte_count
  put8(buf, 16 + 45, 0x03);                 // memory_access_info: gva_valid, gva_gpa_valid
  put8(buf, 16 + 46, 0x0E);                 // tpr_priority
  put8(buf, 16 + 47, 0x77);                 // rsvd
  put64(buf, 16 + 48, 0xFFFF800000001010);  // guest_virtual_address
  put64(buf, 16 + 56, 0x00000000D0000010);  // guest_physical_address
  for (std::size_t i = 0; i < 16; ++i)
    put8(buf, 16 + 64 + i, static_cast<std::uint8_t>(0x90 + i));  // instruction_bytes
  put8(buf, 16 + 64, 0x89);                                       // mov [rdi+0x10], eax
  put8(buf, 16 + 65, 0x47);
  put8(buf, 16 + 66, 0x10);

  ASSERT_EQ(sizeof(abi::HvMessage), buf.size());
  abi::HvMessage msg;
  std::memcpy(&msg, buf.data(), buf.size());
  expect_header_fields(msg, 0x80000000, 80);
  EXPECT_EQ(msg.header.message_type, abi::kMsgUnmappedGpa);

  abi::HvMemoryIntercept mem;
  ASSERT_LE(sizeof mem, sizeof msg.payload);
  std::memcpy(&mem, msg.payload, sizeof mem);
  expect_intercept_header_fields(mem.header);
  EXPECT_EQ(mem.cache_type, 6u);
  EXPECT_EQ(mem.instruction_byte_count, 3);
  EXPECT_EQ(mem.memory_access_info, 0x03);
  EXPECT_EQ(mem.tpr_priority, 0x0E);
  EXPECT_EQ(mem.rsvd, 0x77);
  EXPECT_EQ(mem.guest_virtual_address, 0xFFFF800000001010u);
  EXPECT_EQ(mem.guest_physical_address, 0x00000000D0000010u);
  EXPECT_EQ(mem.instruction_bytes[0], 0x89);
  EXPECT_EQ(mem.instruction_bytes[1], 0x47);
  EXPECT_EQ(mem.instruction_bytes[2], 0x10);
  for (std::size_t i = 3; i < 16; ++i) EXPECT_EQ(mem.instruction_bytes[i], 0x90 + i) << "instruction byte " << i;
}

TEST(MshvAbiGolden, ApicEoiMessageFromKernelBytes) {  // §9.1 + §9.2: payload has no intercept header
  MessageBytes buf{};
  put32(buf, 0, 0x80010004);             // message_type
  put8(buf, 4, 8);                       // payload_size
  put64(buf, 8, 0x0123456789ABCDEFull);  // sender
  put32(buf, 16 + 0, 2);                 // vp_index
  put32(buf, 16 + 4, 0x31);              // interrupt_vector

  ASSERT_EQ(sizeof(abi::HvMessage), buf.size());
  abi::HvMessage msg;
  std::memcpy(&msg, buf.data(), buf.size());
  EXPECT_EQ(msg.header.message_type, abi::kMsgX64ApicEoi);
  EXPECT_EQ(msg.header.payload_size, 8);
  EXPECT_EQ(msg.header.flags, 0);
  EXPECT_EQ(msg.header.sender, 0x0123456789ABCDEFull);

  abi::HvApicEoi eoi;
  ASSERT_LE(sizeof eoi, sizeof msg.payload);
  std::memcpy(&eoi, msg.payload, sizeof eoi);
  EXPECT_EQ(eoi.vp_index, 2u);
  EXPECT_EQ(eoi.interrupt_vector, 0x31u);
}

}  // namespace
