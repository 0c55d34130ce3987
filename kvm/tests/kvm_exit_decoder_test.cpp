// The exit decoder must refuse a kvm_run page whose sizes or offsets do not fit, whatever wrote it.
#include <vector>

#include <gtest/gtest.h>

#include "kvm_abi.hpp"
#include "kvm_exit_decoder.hpp"

namespace {

using hv::kvm::detail::decode_exit;

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
  const auto& io = std::get<hv::IoExit>(d->exit);
  EXPECT_EQ(io.port, 0x3f8);
  EXPECT_EQ(io.size, 2);
  EXPECT_EQ(io.count, 3U);
  EXPECT_EQ(io.direction, hv::AccessDirection::Write);
  ASSERT_EQ(io.data.size(), 6U);
  EXPECT_EQ(io.data[0], 0x11);
  EXPECT_EQ(d->pending_read.destination, nullptr);
}

TEST(KvmExitDecoder, IoInIsPrefilledWithOpenBusAndPending) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_IO;
  p.run()->io = {.direction = KVM_EXIT_IO_IN, .size = 4, .port = 0x60, .count = 1, .data_offset = 4096};
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->pending_read.length, 4U);
  EXPECT_EQ(d->pending_read.destination, p.bytes.data() + 4096);
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
  const auto& mmio = std::get<hv::MmioExit>(d->exit);
  EXPECT_EQ(mmio.address, 0xd0000000U);
  EXPECT_EQ(mmio.size, 8);
  EXPECT_EQ(d->pending_read.length, 8U);
}

TEST(KvmExitDecoder, UnknownReasonIsAValueNotAnAbort) {
  Page p;
  p.run()->exit_reason = 0xdead;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  const auto& u = std::get<hv::UnknownExit>(d->exit);
  EXPECT_EQ(u.backend, "kvm");
  EXPECT_EQ(u.raw_reason, 0xdeadU);
}

TEST(KvmExitDecoder, SystemEventsAreClassified) {
  Page p;
  p.run()->exit_reason = KVM_EXIT_SYSTEM_EVENT;
  p.run()->system_event.type = KVM_SYSTEM_EVENT_RESET;
  auto d = decode_exit(p.bytes);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<hv::SystemEventExit>(d->exit).kind, hv::SystemEventKind::Reset);
}

TEST(KvmExitDecoder, PageSmallerThanKvmRunIsRefused) {
  std::vector<std::uint8_t> tiny(100, 0);
  EXPECT_FALSE(decode_exit(tiny));
}

}  // namespace
