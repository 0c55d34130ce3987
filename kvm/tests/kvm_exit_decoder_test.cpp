// The exit decoder must refuse a kvm_run page whose sizes or offsets do not fit, whatever wrote it.
#include <cstring>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "kvm_abi.hpp"
#include "kvm_exit_decoder.hpp"

namespace {

using hv::kvm::detail::decode_exit;
using hv::kvm::detail::KvmIoAccess;
using hv::kvm::detail::KvmMmioAccess;

struct Page {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(3 * 4096, 0);
  kvm_run* run() { return reinterpret_cast<kvm_run*>(bytes.data()); }
};

TEST(KvmExitDecoder, IoOutPointsAtTheDataInThePage) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_IO;
  p.run()->io = {.direction = KVM_EXIT_IO_OUT, .size = 2, .port = 0x3f8, .count = 3, .data_offset = 4096};
  p.bytes[4096] = 0x11;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d) << d.error().to_string();
  const auto& io = std::get<KvmIoAccess>(*d);
  EXPECT_EQ(io.port, 0x3f8);
  EXPECT_EQ(io.size, 2);
  EXPECT_EQ(io.count, 3U);
  EXPECT_EQ(io.direction, hv::AccessDirection::Write);
  ASSERT_EQ(io.data.size(), 6U);
  EXPECT_EQ(io.data.data(), p.bytes.data() + 4096);
  EXPECT_EQ(io.data[0], 0x11) << "a write's data is left as the kernel wrote it";
}

TEST(KvmExitDecoder, IoInIsPrefilledWithOpenBusInThePage) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_IO;
  p.run()->io = {.direction = KVM_EXIT_IO_IN, .size = 4, .port = 0x60, .count = 1, .data_offset = 4096};
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& io = std::get<KvmIoAccess>(*d);
  EXPECT_EQ(io.direction, hv::AccessDirection::Read);
  EXPECT_EQ(io.data.size(), 4U);
  EXPECT_EQ(io.data.data(), p.bytes.data() + 4096);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p.bytes[4096 + i], 0xff);
}

TEST(KvmExitDecoder, IoWithDataOutsideTheMappingIsRefused) {
  struct Case {
    std::uint8_t size;
    std::uint32_t count;
    std::uint64_t offset;
    std::uint8_t dir;
  };
  const Case cases[] = {
      {1, 1, 3 * 4096, KVM_EXIT_IO_OUT},              // starts at the end
      {4, 3000, 4096, KVM_EXIT_IO_OUT},               // runs past the end
      {4, 0xffffffff, 4096, KVM_EXIT_IO_IN},          // size*count overflow attempt
      {1, 1, 0xfffffffffffffff0ULL, KVM_EXIT_IO_IN},  // absurd offset
      {1, 1, 8, KVM_EXIT_IO_OUT},                     // inside struct kvm_run itself
      {3, 1, 4096, KVM_EXIT_IO_OUT},                  // invalid size
      {1, 0, 4096, KVM_EXIT_IO_OUT},                  // zero count
      {1, 1, 4096, 7},                                // invalid direction
  };
  for (const auto& c : cases) {
    Page p;
    p.run()->exit_reason = KVM_EXIT_IO;
    p.run()->io = {.direction = c.dir, .size = c.size, .port = 1, .count = c.count, .data_offset = c.offset};
    auto d = decode_exit(p.bytes);
    ASSERT_FALSE(d) << "size " << int(c.size) << " count " << c.count << " offset " << c.offset;
    EXPECT_EQ(d.error().kind(), hv::ErrorKind::Internal);
  }
}

TEST(KvmExitDecoder, MmioLengthMustBeAnAccessWidth) {
  for (std::uint32_t len : {0U, 3U, 5U, 9U, 0xffffffffU}) {
    Page p;
    p.run()->exit_reason = KVM_EXIT_MMIO;
    p.run()->mmio.len = len;
    EXPECT_FALSE(decode_exit(p.bytes)) << len;
  }
  Page p;
  p.run()->exit_reason = KVM_EXIT_MMIO;
  p.run()->mmio.phys_addr = 0xd0000000;
  p.run()->mmio.len = 8;
  p.run()->mmio.is_write = 0;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& mmio = std::get<KvmMmioAccess>(*d);
  EXPECT_EQ(mmio.address, 0xd0000000U);
  EXPECT_EQ(mmio.direction, hv::AccessDirection::Read);
  EXPECT_EQ(mmio.data.size(), 8U);
}

TEST(KvmExitDecoder, UnknownReasonIsAValueNotAnAbort) {
  Page p;
  p.run()->exit_reason = 0xdead;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& u = std::get<hv::UnknownExit>(std::get<hv::Exit>(*d));
  EXPECT_EQ(u.backend, "kvm");
  EXPECT_EQ(u.raw_reason, 0xdeadU);
}

TEST(KvmExitDecoder, SystemEventsAreClassified) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_SYSTEM_EVENT;
  p.run()->system_event.type = KVM_SYSTEM_EVENT_RESET;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<hv::SystemEventExit>(std::get<hv::Exit>(*d)).kind, hv::SystemEventKind::Reset);
}

// KVM_EXIT_INTERNAL_ERROR: the suberror named, the data words, and for an emulation failure the
// instruction bytes the kernel put in the data (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES).
TEST(KvmExitDecoder, EmulationFailureCarriesSuberrorDataAndInstructionBytes) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_INTERNAL_ERROR;
  auto& failure = p.run()->emulation_failure;
  failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  failure.ndata = 8;  // flags, 2 words of instruction, 5 of exit information
  failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  failure.insn_size = 3;
  const std::uint8_t clac[] = {0x0f, 0x01, 0xca};
  std::memset(failure.insn_bytes, 0x90, sizeof failure.insn_bytes);
  std::memcpy(failure.insn_bytes, clac, sizeof clac);
  for (int i = 3; i < 8; ++i) p.run()->internal.data[i] = 0x1000 + i;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d) << d.error().to_string();
  const auto& e = std::get<hv::InternalErrorExit>(std::get<hv::Exit>(*d));
  EXPECT_EQ(e.code, 1U);
  EXPECT_EQ(e.name, "KVM_INTERNAL_ERROR_EMULATION");
  ASSERT_EQ(e.data.size(), 8U);
  EXPECT_EQ(e.data[0], KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES);
  EXPECT_EQ(e.data[7], 0x1007U);
  EXPECT_EQ(std::vector<std::uint8_t>(e.instruction.begin(), e.instruction.end()),
            std::vector<std::uint8_t>(std::begin(clac), std::end(clac)));
  // Both spans lie inside the page.
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(e.data.data()), p.bytes.data() + 40);
  EXPECT_EQ(e.instruction.data(), p.bytes.data() + 49);
}

TEST(KvmExitDecoder, EmulationFailureWithoutTheFlagOrTheWordsHasNoInstructionBytes) {
  for (const auto& [flags, ndata] : {std::pair<std::uint64_t, std::uint32_t>{0, 8}, {1, 2}, {1, 0}}) {
    Page p;
    p.run()->exit_reason = KVM_EXIT_INTERNAL_ERROR;
    auto& failure = p.run()->emulation_failure;
    failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
    failure.ndata = ndata;
    failure.flags = flags;
    failure.insn_size = 3;
    auto d = decode_exit(p.bytes);
    ASSERT_TRUE(d);
    const auto& e = std::get<hv::InternalErrorExit>(std::get<hv::Exit>(*d));
    EXPECT_TRUE(e.instruction.empty()) << "flags " << flags << " ndata " << ndata;
    EXPECT_EQ(e.data.size(), ndata);
  }
}

TEST(KvmExitDecoder, InternalErrorCountsAreClampedToThePage) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_INTERNAL_ERROR;
  auto& failure = p.run()->emulation_failure;
  failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  failure.ndata = 0xffffffff;
  failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  failure.insn_size = 0xff;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& e = std::get<hv::InternalErrorExit>(std::get<hv::Exit>(*d));
  EXPECT_EQ(e.data.size(), 16U);
  EXPECT_EQ(e.instruction.size(), 15U);
}

TEST(KvmExitDecoder, InternalErrorSuberrorsAreNamed) {
  const std::pair<std::uint32_t, std::string_view> names[] = {
      {KVM_INTERNAL_ERROR_EMULATION, "KVM_INTERNAL_ERROR_EMULATION"},
      {KVM_INTERNAL_ERROR_SIMUL_EX, "KVM_INTERNAL_ERROR_SIMUL_EX"},
      {KVM_INTERNAL_ERROR_DELIVERY_EV, "KVM_INTERNAL_ERROR_DELIVERY_EV"},
      {KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON"},
      {99, "KVM_EXIT_INTERNAL_ERROR (unknown suberror)"},
  };
  for (const auto& [suberror, name] : names) {
    Page p;
    p.run()->exit_reason = KVM_EXIT_INTERNAL_ERROR;
    p.run()->internal.suberror = suberror;
    p.run()->internal.ndata = 2;
    p.run()->internal.data[0] = 0x80000b0e;  // e.g. DELIVERY_EV: vectoring information
    p.run()->internal.data[1] = 0x31;
    auto d = decode_exit(p.bytes);
    ASSERT_TRUE(d);
    const auto& e = std::get<hv::InternalErrorExit>(std::get<hv::Exit>(*d));
    EXPECT_EQ(e.code, suberror);
    EXPECT_EQ(e.name, name);
    ASSERT_EQ(e.data.size(), 2U);
    EXPECT_EQ(e.data[0], 0x80000b0eU);
    EXPECT_EQ(e.data[1], 0x31U);
    EXPECT_TRUE(e.instruction.empty());
  }
}

TEST(KvmExitDecoder, FailEntryCarriesTheHardwareReason) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_FAIL_ENTRY;
  p.run()->fail_entry.hardware_entry_failure_reason = 0x21;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& e = std::get<hv::InternalErrorExit>(std::get<hv::Exit>(*d));
  EXPECT_EQ(e.code, static_cast<std::uint32_t>(KVM_EXIT_FAIL_ENTRY));
  EXPECT_EQ(e.name, "KVM_EXIT_FAIL_ENTRY");
  EXPECT_EQ(e.detail, 0x21U);
}

TEST(KvmExitDecoder, PageSmallerThanKvmRunIsRefused) {
  std::vector<std::uint8_t> tiny(100, 0);
  EXPECT_FALSE(decode_exit(tiny));
}

}  // namespace
