// The architectural rules hv/x86_rules.hpp shares between the emulator and the backends, checked
// against the values the Intel SDM gives for each case.
#include "hv/x86_rules.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace {

using hv::x86::CpuMode;

TEST(X86Rules, WidthMaskCoversTheLowBytes) {
  EXPECT_EQ(hv::x86::width_mask(1), 0xffU);
  EXPECT_EQ(hv::x86::width_mask(2), 0xffffU);
  EXPECT_EQ(hv::x86::width_mask(4), 0xffffffffU);
  EXPECT_EQ(hv::x86::width_mask(8), ~std::uint64_t{0});
}

// SDM Vol. 1 3.4.1.1: 32-bit operands zero-extend into the 64-bit register; 8- and 16-bit ones
// leave the upper bits alone.
TEST(X86Rules, RegisterWritesZeroExtendOnlyAt32Bits) {
  const std::uint64_t old = 0x1122334455667788ULL;
  EXPECT_EQ(hv::x86::write_register(old, 0xaabb, 1), 0x11223344556677bbULL);
  EXPECT_EQ(hv::x86::write_register(old, 0xaabbcc, 2), 0x112233445566bbccULL);
  EXPECT_EQ(hv::x86::write_register(old, 0xffaabbccddULL, 4), 0xaabbccddULL);
  EXPECT_EQ(hv::x86::write_register(old, 0x99, 8), 0x99U);
}

TEST(X86Rules, AddressSizeFollowsTheModeAnd67h) {
  EXPECT_EQ(hv::x86::address_size(CpuMode::Real16, false), 2);
  EXPECT_EQ(hv::x86::address_size(CpuMode::Real16, true), 4);
  EXPECT_EQ(hv::x86::address_size(CpuMode::Protected32, false), 4);
  EXPECT_EQ(hv::x86::address_size(CpuMode::Protected32, true), 2);
  EXPECT_EQ(hv::x86::address_size(CpuMode::Long64, false), 8);
  EXPECT_EQ(hv::x86::address_size(CpuMode::Long64, true), 4);
}

TEST(X86Rules, InstructionPointerWrapsOutside64BitMode) {
  EXPECT_EQ(hv::x86::next_instruction_pointer(0xffff, 2, CpuMode::Real16), 1U);
  EXPECT_EQ(hv::x86::next_instruction_pointer(0xffffffffULL, 1, CpuMode::Protected32), 0U);
  EXPECT_EQ(hv::x86::next_instruction_pointer(0xffffffffULL, 1, CpuMode::Long64), 0x100000000ULL);
}

// A string index moves by the element size in DF's direction and wraps within the address size.
TEST(X86Rules, StringIndexStepsByDfWithinTheAddressSize) {
  EXPECT_EQ(hv::x86::step_string_index(0x1000, 4, 8, false), 0x1004U);
  EXPECT_EQ(hv::x86::step_string_index(0x1000, 2, 8, true), 0xffeU);
  EXPECT_EQ(hv::x86::step_string_index(0xabcd0000ffffULL, 1, 2, false), 0xabcd00000000ULL) << "SI wraps inside SI";
  EXPECT_EQ(hv::x86::step_string_index(0xabcd00000000ULL, 1, 2, true), 0xabcd0000ffffULL);
  EXPECT_EQ(hv::x86::step_string_index(0xabcdffffffffULL, 1, 4, false), 0U) << "an ESI write clears bits 63:32";
}

TEST(X86Rules, PrefixScanReportsEachGroupAndItsLength) {
  const std::vector<std::uint8_t> bytes = {0x67, 0x2e, 0x64, 0xf3, 0x66, 0x6e};  // addr32 cs fs rep data16 outsb
  const auto p = hv::x86::scan_prefixes(bytes, CpuMode::Long64);
  EXPECT_EQ(p.length, 5);
  EXPECT_TRUE(p.address_size);
  EXPECT_TRUE(p.operand_size);
  EXPECT_FALSE(p.lock);
  EXPECT_EQ(p.rep, hv::x86::RepPrefix::Rep);
  EXPECT_TRUE(p.segment_override);
  EXPECT_EQ(p.segment, hv::x86::SegmentRegister::Fs) << "the last segment prefix wins";
}

// REX is a prefix only in 64-bit mode and only directly before the opcode.
TEST(X86Rules, RexCountsOnlyIn64BitModeAndDirectlyBeforeTheOpcode) {
  const std::vector<std::uint8_t> rex_then_op = {0x48, 0x89, 0x03};
  auto p = hv::x86::scan_prefixes(rex_then_op, CpuMode::Long64);
  EXPECT_EQ(p.length, 1);
  EXPECT_TRUE(p.rex_w());
  p = hv::x86::scan_prefixes(rex_then_op, CpuMode::Protected32);
  EXPECT_EQ(p.length, 0) << "0x48 is DEC EAX outside 64-bit mode";
  const std::vector<std::uint8_t> rex_then_legacy = {0x48, 0x66, 0x89, 0x03};
  p = hv::x86::scan_prefixes(rex_then_legacy, CpuMode::Long64);
  EXPECT_EQ(p.length, 2);
  EXPECT_EQ(p.rex, 0) << "a legacy prefix after REX cancels it";
  const std::vector<std::uint8_t> two_rex = {0x41, 0x48, 0x89};
  p = hv::x86::scan_prefixes(two_rex, CpuMode::Long64);
  EXPECT_EQ(p.length, 1) << "a second REX is the opcode (which decode() rejects)";
  EXPECT_EQ(p.rex, 0x41);
}

TEST(X86Rules, PrefixScanStopsAtTheSpanAndAt15Bytes) {
  const std::vector<std::uint8_t> only_prefixes = {0x66, 0x67};
  EXPECT_EQ(hv::x86::scan_prefixes(only_prefixes, CpuMode::Real16).length, 2);
  const std::vector<std::uint8_t> many(20, 0x66);
  EXPECT_EQ(hv::x86::scan_prefixes(many, CpuMode::Real16).length, 15);
  EXPECT_EQ(hv::x86::scan_prefixes({}, CpuMode::Long64).length, 0);
}

// SDM Vol. 3 3.4: outside 64-bit mode base + offset is a 32-bit linear address (it wraps at 4 GiB);
// in 64-bit mode only FS and GS have a base, and nothing wraps.
TEST(X86Rules, LinearAddressesWrapAt4GiBOutside64BitMode) {
  using hv::x86::SegmentRegister;
  EXPECT_EQ(hv::x86::linear_address(CpuMode::Protected32, SegmentRegister::Es, 0xfffff000, 0x3000, 4), 0x2000U);
  EXPECT_EQ(hv::x86::linear_address(CpuMode::Real16, SegmentRegister::Ds, 0xffff0, 0x1'0010, 2), 0xffff0U + 0x10);
  EXPECT_EQ(hv::x86::linear_address(CpuMode::Long64, SegmentRegister::Es, 0xfffff000, 0x3000, 8), 0x3000U);
  EXPECT_EQ(hv::x86::linear_address(CpuMode::Long64, SegmentRegister::Gs, 0xfffff000, 0x3000, 8), 0x1'0000'2000ULL);
  EXPECT_EQ(hv::x86::wrap_linear(CpuMode::Protected32, 0x1'0000'0001ULL), 1U);
}

}  // namespace
