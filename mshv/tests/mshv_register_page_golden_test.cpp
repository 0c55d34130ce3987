// Golden layout of the VP register page (mshv/abi/mshv_register_page.hpp), checked against the offset
// table of docs/mshv-abi.md §10.1 (written from Linux include/hyperv/hvhdk.h with commit 48fcc895403c's
// pad, and rust-vmm mshv-bindings' layout tests), not against the header's own static_asserts: the
// page is filled field by field, each field holding bytes equal to its documented offset + 1 (low
// byte), copied out, and compared byte by byte; then a page written as the hypervisor would (bytes
// at the documented offsets) is read back through the struct.
#include <array>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

#include "mshv_register_page.hpp"

namespace {

namespace abi = hv::mshv::abi;

constexpr std::size_t kSize = 424;

// Little-endian bytes (off+1, off+2, ...) for a field of `width` bytes at `off`.
constexpr std::uint64_t tag(std::size_t off, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= static_cast<std::uint64_t>((off + 1 + i) & 0xFF) << (8 * i);
  return v;
}

// §10.1, field by field: offset and width. GPRs at 8 + 8n (n in x86 order), XMMn at 160 + 16n,
// segments (16 bytes each: base @0, limit @8, selector @12, attributes @14) at 256 + 16n, ES CS SS DS FS GS.
struct Field {
  std::size_t offset;
  std::size_t width;
};

std::array<std::uint8_t, kSize> golden_from_table() {
  std::array<std::uint8_t, kSize> bytes{};  // reserved bytes stay 0
  const auto put = [&](std::size_t off, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) bytes.at(off + i) = static_cast<std::uint8_t>((off + 1 + i) & 0xFF);
  };
  put(0, 2);  // version
  put(2, 1);  // isvalid
  put(3, 1);  // rsvdz
  put(4, 4);  // dirty
  for (std::size_t n = 0; n < 16; ++n) put(8 + 8 * n, 8);
  put(136, 8);  // rip
  put(144, 8);  // rflags
  // 152..159: the pad 48fcc895403c restored
  for (std::size_t n = 0; n < 6; ++n) {
    put(160 + 16 * n, 8);
    put(168 + 16 * n, 8);
  }
  for (std::size_t n = 0; n < 6; ++n) {
    const std::size_t s = 256 + 16 * n;
    put(s, 8);
    put(s + 8, 4);
    put(s + 12, 2);
    put(s + 14, 2);
  }
  for (std::size_t off = 352; off < 424; off += 8) put(off, 8);  // cr0 cr3 cr4 cr8 efer dr7, pending, state, hints
  return bytes;
}

TEST(MshvRegisterPageGolden, StructToBytesMatchesTheTable) {
  abi::HvVpRegisterPage page{};
  page.version = static_cast<std::uint16_t>(tag(0, 2));
  page.isvalid = static_cast<std::uint8_t>(tag(2, 1));
  page.rsvdz = static_cast<std::uint8_t>(tag(3, 1));
  page.dirty = static_cast<std::uint32_t>(tag(4, 4));
  for (std::size_t n = 0; n < 16; ++n) page.gp_registers[n] = tag(8 + 8 * n, 8);
  page.rip = tag(136, 8);
  page.rflags = tag(144, 8);
  for (std::size_t n = 0; n < 6; ++n) page.xmm[n] = {tag(160 + 16 * n, 8), tag(168 + 16 * n, 8)};
  for (std::size_t n = 0; n < 6; ++n) {
    const std::size_t s = 256 + 16 * n;
    page.segments[n] = {tag(s, 8), static_cast<std::uint32_t>(tag(s + 8, 4)),
                        static_cast<std::uint16_t>(tag(s + 12, 2)), static_cast<std::uint16_t>(tag(s + 14, 2))};
  }
  page.cr0 = tag(352, 8);
  page.cr3 = tag(360, 8);
  page.cr4 = tag(368, 8);
  page.cr8 = tag(376, 8);
  page.efer = tag(384, 8);
  page.dr7 = tag(392, 8);
  page.pending_interruption = tag(400, 8);
  page.interrupt_state = tag(408, 8);
  page.instruction_emulation_hints = tag(416, 8);

  std::array<std::uint8_t, kSize> bytes{};
  static_assert(sizeof page == kSize);
  std::memcpy(bytes.data(), &page, sizeof page);
  const auto golden = golden_from_table();
  for (std::size_t i = 0; i < kSize; ++i) EXPECT_EQ(bytes.at(i), golden.at(i)) << "byte " << i;
}

// The hypervisor's side: RIP, RAX, RFLAGS, RCX/RSI/RDI, CS and DS written at their offsets are what the
// struct reads, and the register names' order is the page's GPR order.
TEST(MshvRegisterPageGolden, BytesAtTheDocumentedOffsetsReadBackThroughTheStruct) {
  std::array<std::uint8_t, 4096> raw{};  // the whole mapped page
  const auto put64 = [&](std::size_t off, std::uint64_t v) { std::memcpy(raw.data() + off, &v, 8); };
  const std::uint16_t version = abi::kRegisterPageVersion1;
  std::memcpy(raw.data(), &version, 2);
  raw[2] = 1;                         // isvalid
  put64(8, 0x1111);                   // rax
  put64(8 + 8, 0x2222);               // rcx
  put64(8 + 6 * 8, 0x3333);           // rsi
  put64(8 + 7 * 8, 0x4444);           // rdi
  put64(136, 0xffffffff81000000ULL);  // rip
  put64(144, 0x246);                  // rflags
  put64(256 + 16 + 0, 0);             // cs.base
  const std::uint16_t cs_selector = 0x10, cs_attributes = 0xa09b;
  std::memcpy(raw.data() + 256 + 16 + 12, &cs_selector, 2);
  std::memcpy(raw.data() + 256 + 16 + 14, &cs_attributes, 2);
  put64(256 + 3 * 16, 0xabc000);  // ds.base
  put64(384, 0xd01);              // efer

  abi::HvVpRegisterPage page{};
  std::memcpy(&page, raw.data(), sizeof page);
  EXPECT_EQ(page.version, abi::kRegisterPageVersion1);
  EXPECT_EQ(page.isvalid, 1);
  EXPECT_EQ(page.gp_registers[abi::reg::kRax - abi::reg::kRax], 0x1111U);
  EXPECT_EQ(page.gp_registers[(abi::reg::kRax + 1) - abi::reg::kRax], 0x2222U);  // RCX
  EXPECT_EQ(page.gp_registers[6], 0x3333U);                                      // RSI
  EXPECT_EQ(page.gp_registers[7], 0x4444U);                                      // RDI
  EXPECT_EQ(page.rip, 0xffffffff81000000ULL);
  EXPECT_EQ(page.rflags, 0x246U);
  EXPECT_EQ(page.segments[abi::kRegisterPageSegmentCs].selector, 0x10);
  EXPECT_EQ(page.segments[abi::kRegisterPageSegmentCs].attributes, 0xa09b);
  EXPECT_EQ(page.segments[abi::kRegisterPageSegmentDs].base, 0xabc000U);
  EXPECT_EQ(page.efer, 0xd01U);
  // The mmap offset and the dirty bits a VMM sets after writing RIP and a GPR.
  EXPECT_EQ(abi::kVpMmapOffsetRegisters, 0U);
  EXPECT_EQ(abi::kVpMmapOffsetInterceptMessage, 1U);
  EXPECT_EQ(abi::kVpMmapOffsetGhcb, 2U);
  EXPECT_EQ((1U << abi::kRegisterClassGeneral) | (1U << abi::kRegisterClassIp), 0x3U);
  EXPECT_EQ(1U << abi::kRegisterClassSegment, 0x8U);
  EXPECT_EQ(1U << abi::kRegisterClassFlags, 0x10U);
}

}  // namespace
