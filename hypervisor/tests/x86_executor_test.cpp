// Executor behaviour the native differential test cannot show: 16- and 32-bit modes, segment bases,
// bounded and resumable REP, faults part-way, the atomic bracket, and malformed instructions.
#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "hv/x86_emulator.hpp"

namespace {

using hv::x86::CpuMode;
using hv::x86::SegmentRegister;

// 128 KiB of flat memory at linear 0, with an optional faulting hole, recording atomic brackets.
class FlatMemory final : public hv::x86::LinearMemory {
 public:
  hv::Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override {
    if (!ok(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "read", "fault");
    std::memcpy(data.data(), bytes.data() + linear, data.size());
    ++reads;
    return {};
  }
  hv::Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override {
    if (!ok(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "write", "fault");
    std::memcpy(bytes.data() + linear, data.data(), data.size());
    ++writes;
    return {};
  }
  void begin_atomic(std::uint64_t linear, std::uint8_t size) override {
    ++atomic_begins;
    atomic_linear = linear;
    atomic_size = size;
    in_atomic = true;
  }
  void end_atomic() noexcept override {
    ++atomic_ends;
    in_atomic = false;
  }
  std::uint64_t u64(std::uint64_t at) const {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data() + at, 8);
    return v;
  }

  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0x20000);
  std::uint64_t hole_begin = ~0ULL, hole_end = ~0ULL;  // [begin, end) faults
  int reads = 0, writes = 0, atomic_begins = 0, atomic_ends = 0;
  std::uint64_t atomic_linear = 0;
  std::uint8_t atomic_size = 0;
  bool in_atomic = false;

 private:
  bool ok(std::uint64_t a, std::size_t n) const {
    return a <= bytes.size() - n && (a + n <= hole_begin || a >= hole_end);
  }
};

hv::x86::Instruction decode(std::vector<std::uint8_t> bytes, CpuMode mode) {
  auto insn = hv::x86::decode(bytes, mode);
  EXPECT_TRUE(insn) << insn.error().to_string();
  return insn ? *insn : hv::x86::Instruction{};
}

hv::x86::SegmentBases real_mode_bases(std::uint16_t ds, std::uint16_t es) {
  hv::x86::SegmentBases b{};
  b[static_cast<int>(SegmentRegister::Ds)] = std::uint64_t{ds} << 4;
  b[static_cast<int>(SegmentRegister::Es)] = std::uint64_t{es} << 4;
  return b;
}

TEST(X86Executor, FaultingMemoryAccessLeavesRegistersUnchanged) {
  FlatMemory memory;
  hv::GeneralRegisters regs;
  regs.rbx = 0xdead0000;  // outside the memory
  regs.rip = 0x1000;
  const auto before = regs;
  for (auto bytes : {std::vector<std::uint8_t>{0x8b, 0x03} /*mov eax,[rbx]*/,
                     {0x01, 0x03} /*add [rbx],eax*/,
                     {0x0f, 0xc1, 0x03} /*xadd [rbx],eax*/,
                     {0x87, 0x03} /*xchg [rbx],eax*/,
                     {0x0f, 0x94, 0x03} /*sete [rbx]*/}) {
    ASSERT_FALSE(hv::x86::execute(decode(bytes, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));
    EXPECT_EQ(regs, before);
  }
  EXPECT_EQ(memory.atomic_begins, memory.atomic_ends);  // the bracket closes on the error path too
}

TEST(X86Executor, SegmentBasesAndRipRelative) {
  FlatMemory memory;
  memory.bytes[0x1020] = 0x5a;
  // mov al, fs:[0x20] with FS base 0x1000 (64-bit mode: FS/GS bases apply, DS's does not).
  hv::GeneralRegisters regs;
  hv::x86::SegmentBases bases{};
  bases[static_cast<int>(SegmentRegister::Fs)] = 0x1000;
  bases[static_cast<int>(SegmentRegister::Ds)] = 0x8000;
  ASSERT_TRUE(hv::x86::execute(decode({0x64, 0x8a, 0x04, 0x25, 0x20, 0, 0, 0}, CpuMode::Long64), CpuMode::Long64, bases,
                               regs, memory));
  EXPECT_EQ(regs.rax & 0xff, 0x5aU);
  // mov al, [rip + 0x18] at RIP 0xff8 + length 6 -> 0x1016.
  memory.bytes[0x1016] = 0x77;
  regs.rip = 0xff8;
  ASSERT_TRUE(
      hv::x86::execute(decode({0x8a, 0x05, 0x18, 0, 0, 0}, CpuMode::Long64), CpuMode::Long64, bases, regs, memory));
  EXPECT_EQ(regs.rax & 0xff, 0x77U);
  EXPECT_EQ(regs.rip, 0xffeU);
}

TEST(X86Executor, RealModeAddressingAndIpWrap) {
  FlatMemory memory;
  // mov [bx+si+2], al with DS = 0x100: linear 0x1000 + (0x20 + 0x10 + 2).
  hv::GeneralRegisters regs;
  regs.rax = 0xab;
  regs.rbx = 0x20;
  regs.rsi = 0x10;
  regs.rip = 0xfffe;  // a 3-byte instruction here wraps IP to 0x0001
  ASSERT_TRUE(hv::x86::execute(decode({0x88, 0x40, 0x02}, CpuMode::Real16), CpuMode::Real16, real_mode_bases(0x100, 0),
                               regs, memory));
  EXPECT_EQ(memory.bytes[0x1032], 0xab);
  EXPECT_EQ(regs.rip, 0x0001U);
  // [bp+di] defaults to SS: mov ax, [bp+di] with SS base 0x2000.
  hv::x86::SegmentBases bases = real_mode_bases(0x100, 0);
  bases[static_cast<int>(SegmentRegister::Ss)] = 0x2000;
  memory.bytes[0x2006] = 0x34;
  memory.bytes[0x2007] = 0x12;
  regs.rbp = 0x4;
  regs.rdi = 0x2;
  ASSERT_TRUE(hv::x86::execute(decode({0x8b, 0x03}, CpuMode::Real16), CpuMode::Real16, bases, regs, memory));
  EXPECT_EQ(regs.rax & 0xffff, 0x1234U);
  // The 16-bit effective address wraps: [bx+si] with BX = 0xfff0, SI = 0x20 -> DS:0x0010.
  memory.bytes[0x1010] = 0x99;
  regs.rbx = 0xfff0;
  regs.rsi = 0x20;
  ASSERT_TRUE(hv::x86::execute(decode({0x8a, 0x00}, CpuMode::Real16), CpuMode::Real16, real_mode_bases(0x100, 0), regs,
                               memory));
  EXPECT_EQ(regs.rax & 0xff, 0x99U);
}

TEST(X86Executor, RealModeRepMovsWrapsSiAndDiWithinSixteenBits) {
  FlatMemory memory;
  for (int i = 0; i < 4; ++i) memory.bytes[0x1000 + ((0xfffe + i) & 0xffff)] = static_cast<std::uint8_t>(0xa0 + i);
  hv::GeneralRegisters regs;
  regs.rsi = 0xabcd0000fffeULL;  // bits above SI must be kept, and SI must wrap
  regs.rdi = 0x0100;
  regs.rcx = 0x55550004;  // CX = 4: ECX's upper half is not the count
  ASSERT_TRUE(hv::x86::execute(decode({0xf3, 0xa4}, CpuMode::Real16), CpuMode::Real16, real_mode_bases(0x100, 0x300),
                               regs, memory));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(memory.bytes[0x3100 + i], 0xa0 + i) << i;
  EXPECT_EQ(regs.rsi, 0xabcd00000002ULL);
  EXPECT_EQ(regs.rdi, 0x0104U);
  EXPECT_EQ(regs.rcx, 0x55550000U);
}

TEST(X86Executor, ProtectedModeArithmeticAndStrings) {
  FlatMemory memory;
  hv::x86::SegmentBases bases{};
  bases[static_cast<int>(SegmentRegister::Ds)] = 0x1000;
  bases[static_cast<int>(SegmentRegister::Es)] = 0x2000;
  hv::GeneralRegisters regs;
  // add [ebx], eax: 0xffffffff + 1 = 0 with CF, ZF, AF, PF.
  std::memset(memory.bytes.data() + 0x1010, 0xff, 4);
  regs.rbx = 0x10;
  regs.rax = 1;
  ASSERT_TRUE(hv::x86::execute(decode({0x01, 0x03}, CpuMode::Protected32), CpuMode::Protected32, bases, regs, memory));
  EXPECT_EQ(memory.u64(0x1010) & 0xffffffff, 0U);
  EXPECT_EQ(regs.rflags & 0x8d5, 0x55U);  // CF PF AF ZF
  // rep stosd with 66 (stosw) and 67 (16-bit addressing: DI, CX) in 32-bit mode.
  regs.rax = 0xbeef;
  regs.rdi = 0x7777fffe;  // DI = 0xfffe wraps
  regs.rcx = 0x10002;     // CX = 2
  ASSERT_TRUE(hv::x86::execute(decode({0x66, 0x67, 0xf3, 0xab}, CpuMode::Protected32), CpuMode::Protected32, bases,
                               regs, memory));
  EXPECT_EQ(memory.bytes[0x2000 + 0xfffe], 0xef);
  EXPECT_EQ(memory.bytes[0x2000 + 0x0000], 0xef);
  EXPECT_EQ(regs.rdi, 0x77770002U);
  EXPECT_EQ(regs.rcx, 0x10000U);
}

TEST(X86Executor, StringSourceHonoursSegmentOverrideButDestinationIsAlwaysEs) {
  FlatMemory memory;
  hv::x86::SegmentBases bases{};
  bases[static_cast<int>(SegmentRegister::Gs)] = 0x3000;
  memory.bytes[0x3005] = 0x42;
  hv::GeneralRegisters regs;
  regs.rsi = 5;
  regs.rdi = 0x100;  // ES base is ignored in 64-bit mode
  ASSERT_TRUE(
      hv::x86::execute(decode({0x65, 0xa4}, CpuMode::Long64), CpuMode::Long64, bases, regs, memory));  // gs movsb
  EXPECT_EQ(memory.bytes[0x100], 0x42);
  // In 32-bit mode a segment prefix on STOS does not move the destination off ES.
  bases[static_cast<int>(SegmentRegister::Es)] = 0x4000;
  regs.rax = 0x24;
  regs.rdi = 0x10;
  ASSERT_TRUE(hv::x86::execute(decode({0x65, 0xaa}, CpuMode::Protected32), CpuMode::Protected32, bases, regs, memory));
  EXPECT_EQ(memory.bytes[0x4010], 0x24);
}

TEST(X86Executor, RepIsBoundedPerCallAndResumes) {
  FlatMemory memory;
  for (int i = 0; i < 100; ++i) memory.bytes[0x1000 + i] = static_cast<std::uint8_t>(i);
  hv::GeneralRegisters regs;
  regs.rsi = 0x1000;
  regs.rdi = 0x2000;
  regs.rcx = 100;
  regs.rip = 0x500;
  const auto insn = decode({0xf3, 0xa4}, CpuMode::Long64);  // rep movsb
  auto first = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory, {.max_string_iterations = 30});
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->complete);
  EXPECT_EQ(first->iterations, 30U);
  EXPECT_EQ(regs.rip, 0x500U);  // stays on the instruction
  EXPECT_EQ(regs.rcx, 70U);
  EXPECT_EQ(regs.rsi, 0x101eU);
  int calls = 2;
  for (;; ++calls) {
    auto r = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory, {.max_string_iterations = 30});
    ASSERT_TRUE(r);
    if (r->complete) break;
  }
  EXPECT_EQ(calls, 4);  // 30 + 30 + 30 + 10
  EXPECT_EQ(regs.rcx, 0U);
  EXPECT_EQ(regs.rip, 0x502U);
  EXPECT_EQ(std::memcmp(memory.bytes.data() + 0x1000, memory.bytes.data() + 0x2000, 100), 0);
  // A zero count does nothing but advance RIP; the limit never goes below one element.
  auto none = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory, {.max_string_iterations = 0});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->complete);
  EXPECT_EQ(none->iterations, 0U);
  EXPECT_EQ(regs.rip, 0x504U);
}

// Where Intel and AMD differ (a 67h REP with a zero count in 64-bit mode: Intel clears bits 63:32 of
// RCX, RSI and RDI, AMD keeps them), the emulator writes nothing, as for any zero count; the
// differential test compares only bits 31:0 there, which both vendors keep.
TEST(X86Executor, ZeroCountAddr32RepInLongModeWritesNoRegister) {
  const std::vector<std::vector<std::uint8_t>> forms = {
      {0x67, 0xf3, 0xa4},  // rep movsb [edi], [esi]
      {0x67, 0xf3, 0xaa},  // rep stosb [edi]
      {0x67, 0xf3, 0xa6},  // repe cmpsb
      {0x67, 0xf2, 0xae},  // repne scasb
      {0x67, 0xf3, 0xac},  // rep lodsb
  };
  for (const auto& bytes : forms) {
    FlatMemory memory;
    hv::GeneralRegisters regs;
    regs.rcx = 0xdead'beef'0000'0000;  // ECX = 0, garbage above
    regs.rsi = 0x1234'5678'0000'1000;
    regs.rdi = 0x9abc'def0'0000'2000;
    regs.rip = 0x500;
    auto r = hv::x86::execute(decode(bytes, CpuMode::Long64), CpuMode::Long64, {}, regs, memory);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_TRUE(r->complete);
    EXPECT_EQ(r->iterations, 0U);
    EXPECT_EQ(regs.rcx, 0xdead'beef'0000'0000U) << "form " << int{bytes[2]};
    EXPECT_EQ(regs.rsi, 0x1234'5678'0000'1000U) << "form " << int{bytes[2]};
    EXPECT_EQ(regs.rdi, 0x9abc'def0'0000'2000U) << "form " << int{bytes[2]};
    EXPECT_EQ(regs.rip, 0x503U);
    EXPECT_EQ(memory.reads + memory.writes, 0);
  }
}

TEST(X86Executor, RepFaultAfterProgressKeepsProgressThenReportsTheFault) {
  FlatMemory memory;
  memory.hole_begin = 0x2003;  // the fourth destination byte faults
  memory.hole_end = 0x2004;
  hv::GeneralRegisters regs;
  regs.rsi = 0x1000;
  regs.rdi = 0x2000;
  regs.rcx = 10;
  regs.rip = 0x500;
  const auto insn = decode({0xf3, 0xa4}, CpuMode::Long64);
  auto partial = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory);
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->complete);
  EXPECT_EQ(partial->iterations, 3U);
  EXPECT_EQ(regs.rcx, 7U);
  EXPECT_EQ(regs.rdi, 0x2003U);
  EXPECT_EQ(regs.rip, 0x500U);
  const auto before = regs;
  auto fault = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory);
  ASSERT_FALSE(fault);
  EXPECT_EQ(fault.error().kind(), hv::ErrorKind::OutOfRange);
  EXPECT_EQ(regs, before);
}

TEST(X86Executor, RepeStopsOnFirstDifference) {
  FlatMemory memory;
  std::memcpy(memory.bytes.data() + 0x1000, "abcdXfgh", 8);
  std::memcpy(memory.bytes.data() + 0x2000, "abcdYfgh", 8);
  hv::GeneralRegisters regs;
  regs.rsi = 0x1000;
  regs.rdi = 0x2000;
  regs.rcx = 8;
  ASSERT_TRUE(
      hv::x86::execute(decode({0xf3, 0xa6}, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));  // repe cmpsb
  EXPECT_EQ(regs.rcx, 3U);  // stopped after the fifth element
  EXPECT_EQ(regs.rsi, 0x1005U);
  EXPECT_EQ(regs.rflags & 0x40, 0U);  // ZF clear: they differ
  EXPECT_EQ(regs.rflags & 0x1, 1U);   // 'X' < 'Y'
}

TEST(X86Executor, LockedAndExchangeInstructionsBracketTheirAccessAtomically) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    bool atomic;
  };
  const Case cases[] = {
      {{0xf0, 0x01, 0x03}, true},        // lock add [rbx], eax
      {{0x01, 0x03}, false},             // add [rbx], eax
      {{0x87, 0x03}, true},              // xchg [rbx], eax: locked without a prefix
      {{0xf0, 0x0f, 0xb1, 0x0b}, true},  // lock cmpxchg [rbx], ecx
      {{0xf0, 0x0f, 0xc1, 0x03}, true},  // lock xadd [rbx], eax
      {{0xf0, 0x0f, 0xab, 0x03}, true},  // lock bts [rbx], eax
      {{0x0f, 0xa3, 0x03}, false},       // bt [rbx], eax
      {{0x87, 0xc3}, false},             // xchg ebx, eax: no memory, nothing to bracket
  };
  for (const auto& c : cases) {
    FlatMemory memory;
    hv::GeneralRegisters regs;
    regs.rbx = 0x40;
    regs.rax = 3;
    ASSERT_TRUE(hv::x86::execute(decode(c.bytes, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));
    EXPECT_EQ(memory.atomic_begins, c.atomic ? 1 : 0) << int(c.bytes[0]) << " " << int(c.bytes[1]);
    EXPECT_EQ(memory.atomic_ends, memory.atomic_begins);
    if (c.atomic) {
      EXPECT_EQ(memory.atomic_linear, 0x40U);
      EXPECT_EQ(memory.atomic_size, 4);
    }
  }
}

TEST(X86Executor, CmpxchgWritesTheDestinationBackOnMismatchAsHardwareDoes) {
  FlatMemory memory;
  memory.bytes[0x40] = 7;
  hv::GeneralRegisters regs;
  regs.rbx = 0x40;
  regs.rax = 0xffffffff00000001ULL;  // EAX = 1 != 7
  regs.rcx = 9;
  ASSERT_TRUE(hv::x86::execute(decode({0x0f, 0xb1, 0x0b}, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));
  EXPECT_EQ(memory.reads, 1);
  EXPECT_EQ(memory.writes, 1);  // the old value, written back
  EXPECT_EQ(memory.bytes[0x40], 7);
  EXPECT_EQ(regs.rax, 7U);  // EAX loaded (and, as a 32-bit write, zero-extended)
}

TEST(X86Executor, BitStringOffsetsReachOutsideTheOperand) {
  FlatMemory memory;
  hv::GeneralRegisters regs;
  regs.rbx = 0x100;
  regs.rax = static_cast<std::uint64_t>(-1);  // bit -1 of [rbx] is bit 31 of the dword at rbx-4
  ASSERT_TRUE(hv::x86::execute(decode({0x0f, 0xab, 0x03}, CpuMode::Long64), CpuMode::Long64, {}, regs,
                               memory));  // bts [rbx], eax
  EXPECT_EQ(memory.bytes[0xff], 0x80);
  regs.rax = 67;  // bit 67: dword at rbx+8, bit 3
  ASSERT_TRUE(hv::x86::execute(decode({0x0f, 0xab, 0x03}, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));
  EXPECT_EQ(memory.bytes[0x108], 0x08);
  // An immediate offset is taken modulo the operand width: bts dword [rbx], 35 sets bit 3.
  ASSERT_TRUE(hv::x86::execute(decode({0x0f, 0xba, 0x2b, 35}, CpuMode::Long64), CpuMode::Long64, {}, regs, memory));
  EXPECT_EQ(memory.bytes[0x100], 0x08);
}

TEST(X86Executor, MalformedInstructionsAreRejectedWithoutChanges) {
  FlatMemory memory;
  hv::GeneralRegisters regs;
  regs.rip = 0x1000;
  const auto before = regs;
  auto insn = decode({0x01, 0x03}, CpuMode::Long64);
  insn.destination.memory.base = 20;  // not a register
  auto r = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
  insn = decode({0x01, 0x03}, CpuMode::Long64);
  insn.source.reg = 16;
  EXPECT_FALSE(hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory));
  insn.source.reg = 5;
  insn.source.high_byte = true;  // there is no "high byte" of RBP
  insn.source.size = 1;
  EXPECT_FALSE(hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory));
  insn = decode({0x01, 0x03}, CpuMode::Long64);
  insn.destination.size = 3;
  EXPECT_FALSE(hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory));
  insn = decode({0x01, 0x03}, CpuMode::Long64);
  insn.mnemonic = static_cast<hv::x86::Mnemonic>(200);
  r = hv::x86::execute(insn, CpuMode::Long64, {}, regs, memory);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::Unsupported);
  EXPECT_EQ(regs, before);
  EXPECT_EQ(memory.writes, 0);
}

}  // namespace
