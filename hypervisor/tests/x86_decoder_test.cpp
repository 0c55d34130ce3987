#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hv/x86_instruction.hpp"

namespace {

using hv::x86::CpuMode;
using hv::x86::decode;
using hv::x86::Mnemonic;
using hv::x86::Operand;

struct Vector {
  CpuMode mode;
  std::vector<std::uint8_t> bytes;
  const char* mnemonic;  // "?" when the instruction is outside the emulated set
  int operand_size;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> v = {
#include "x86_decoder_vectors.inc"
  };
  return v;
}

TEST(X86Decoder, LengthMnemonicAndSizeMatchBinutils) {
  for (const auto& v : vectors()) {
    auto insn = decode(v.bytes, v.mode);
    if (std::string(v.mnemonic) == "?") {
      ASSERT_FALSE(insn);
      EXPECT_EQ(insn.error().kind(), hv::ErrorKind::Unsupported);
      continue;
    }
    ASSERT_TRUE(insn) << insn.error().to_string() << " for vector of " << v.bytes.size() << " bytes";
    EXPECT_EQ(insn->length, v.bytes.size()) << hv::x86::to_string(insn->mnemonic);
    EXPECT_STREQ(hv::x86::to_string(insn->mnemonic), v.mnemonic);
    EXPECT_EQ(insn->operand_size, v.operand_size) << v.mnemonic;
  }
}

TEST(X86Decoder, EveryTruncationIsRejectedNotOverread) {
  for (const auto& v : vectors()) {
    for (std::size_t n = 1; n < v.bytes.size(); ++n) {
      auto insn = decode(std::span(v.bytes).first(n), v.mode);
      ASSERT_FALSE(insn) << v.mnemonic << " truncated to " << n << " of " << v.bytes.size() << " bytes was accepted";
    }
  }
  EXPECT_FALSE(decode({}, CpuMode::Long64));
}

TEST(X86Decoder, OperandDetails) {
  // mov %r9, 0x8(%rdi): REX.W + REX.R, base RDI, disp8.
  auto a = decode(std::vector<std::uint8_t>{0x4c, 0x89, 0x4f, 0x08}, CpuMode::Long64);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->source.kind, Operand::Kind::Register);
  EXPECT_EQ(a->source.reg, 9);
  EXPECT_EQ(a->destination.kind, Operand::Kind::Memory);
  EXPECT_EQ(a->destination.memory.base, 7);
  EXPECT_EQ(a->destination.memory.displacement, 8);
  // movb $0x12, 0x1000(%rip): RIP-relative, immediate after the displacement.
  auto b = decode(std::vector<std::uint8_t>{0xc6, 0x05, 0x00, 0x10, 0x00, 0x00, 0x12}, CpuMode::Long64);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->destination.memory.base, hv::x86::kRipBase);
  EXPECT_EQ(b->destination.memory.displacement, 0x1000);
  EXPECT_EQ(b->source.immediate, 0x12U);
  // mov %ah, (%rbx) without REX is AH; with any REX, register 4 is SPL.
  auto c = decode(std::vector<std::uint8_t>{0x88, 0x23}, CpuMode::Long64);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->source.high_byte);
  EXPECT_EQ(c->source.reg, 0);
  auto d = decode(std::vector<std::uint8_t>{0x40, 0x88, 0x23}, CpuMode::Long64);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->source.high_byte);
  EXPECT_EQ(d->source.reg, 4);
  // movq $-1, (%rax): imm32 sign-extended to 64 bits.
  auto e = decode(std::vector<std::uint8_t>{0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff}, CpuMode::Long64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->source.immediate, ~std::uint64_t{0});
  // movabs 0xd0000040, %eax: 8-byte moffs in 64-bit mode.
  auto f = decode(std::vector<std::uint8_t>{0xa1, 0x40, 0x00, 0x00, 0xd0, 0, 0, 0, 0}, CpuMode::Long64);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->length, 9);
  EXPECT_EQ(f->source.memory.displacement, 0xd0000040);
  // mov %ax, 0x10(%bp) in real mode: BP-based addressing defaults to SS.
  auto g = decode(std::vector<std::uint8_t>{0x89, 0x46, 0x10}, CpuMode::Real16);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->destination.memory.segment, hv::x86::SegmentRegister::Ss);
  EXPECT_EQ(g->destination.memory.base, 5);
  EXPECT_EQ(g->address_size, 2);
  // mov %eax, %gs:(%r12): the override wins; R12 (unlike RSP) does not imply SS.
  auto h = decode(std::vector<std::uint8_t>{0x65, 0x41, 0x89, 0x04, 0x24}, CpuMode::Long64);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->destination.memory.segment, hv::x86::SegmentRegister::Gs);
  EXPECT_EQ(h->destination.memory.base, 12);
  EXPECT_EQ(h->destination.memory.index, hv::x86::kNoRegister);
  // A legacy prefix after REX cancels the REX: 48 66 89 07 is a 16-bit store.
  auto i = decode(std::vector<std::uint8_t>{0x48, 0x66, 0x89, 0x07}, CpuMode::Long64);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->operand_size, 2);
}

TEST(X86Decoder, RejectsWhatTheCpuRejects) {
  // 15 operand-size prefixes and an opcode: 16 bytes, over the architectural limit.
  std::vector<std::uint8_t> too_long(15, 0x66);
  too_long.push_back(0x90);
  auto r = decode(too_long, CpuMode::Long64);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::ProtocolViolation) << "the guest's bytes, not the caller's";
  for (const auto& bytes : std::vector<std::vector<std::uint8_t>>{
           {0xf0, 0x01, 0xc0},        // lock add %eax,%eax: register destination
           {0xf0, 0x89, 0x07},        // lock mov: not lockable
           {0xf0, 0x0f, 0xa3, 0x07},  // lock bt: not lockable
           {0x0f, 0xba, 0x07, 0x01},  // 0f ba /0: undefined
       }) {
    auto bad = decode(bytes, CpuMode::Long64);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind(), hv::ErrorKind::ProtocolViolation) << bad.error().to_string();
  }
  for (const auto& bytes : std::vector<std::vector<std::uint8_t>>{
           {0xe8, 0, 0, 0, 0},  // call
           {0xf7, 0x37},        // div
           {0x63, 0x07},        // arpl outside 64-bit mode (checked below in 32-bit mode)
       }) {
    auto mode = bytes[0] == 0x63 ? CpuMode::Protected32 : CpuMode::Long64;
    auto u = decode(bytes, mode);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().kind(), hv::ErrorKind::Unsupported);
  }
}

TEST(X86Decoder, BytesTheCallerCutShortAreTheCallersMistake) {
  // mov [rbx+0x10], eax without its displacement: the caller passed too few bytes.
  auto cut = decode(std::vector<std::uint8_t>{0x89, 0x43}, CpuMode::Long64);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().kind(), hv::ErrorKind::InvalidArgument) << cut.error().to_string();
  auto none = decode(std::span<const std::uint8_t>(), CpuMode::Long64);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), hv::ErrorKind::InvalidArgument);
}

}  // namespace
