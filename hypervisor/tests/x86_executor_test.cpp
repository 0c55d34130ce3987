// The emulator against the host CPU: for each data-movement form, thousands of seeded random register,
// flag and memory states; registers, flags and memory must match the native run bit for bit.
#include <array>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "hv/x86_emulator.hpp"
#include "x86_native_oracle.hpp"

namespace {

using hv::x86::CpuMode;

constexpr std::size_t kBuffer = 512;
constexpr int kCasesPerForm = 2000;
constexpr std::uint64_t kArithmeticFlags = 0x8d5 | 0x400;  // CF PF AF ZF SF OF, DF

// Linear addresses are host addresses inside the native buffer; the emulator's copy sits elsewhere.
class BufferMemory final : public hv::x86::LinearMemory {
 public:
  BufferMemory(std::uint64_t native_base, std::uint8_t* copy) : base_(native_base), copy_(copy) {}
  hv::Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override {
    if (!inside(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "read", "outside the buffer");
    std::memcpy(data.data(), copy_ + (linear - base_), data.size());
    return {};
  }
  hv::Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override {
    if (!inside(linear, data.size())) return hv::fail(hv::ErrorKind::OutOfRange, "write", "outside the buffer");
    std::memcpy(copy_ + (linear - base_), data.data(), data.size());
    return {};
  }

 private:
  bool inside(std::uint64_t a, std::size_t n) const { return a >= base_ && a - base_ <= kBuffer - n; }
  std::uint64_t base_;
  std::uint8_t* copy_;
};

hv::GeneralRegisters to_general(const hvtest::NativeState& s, std::uint64_t rip) {
  hv::GeneralRegisters r;
  std::uint64_t* order[16] = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                              &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  for (int i = 0; i < 16; ++i) *order[i] = s.regs[i];
  r.rflags = s.rflags;
  r.rip = rip;
  return r;
}

// Runs `bytes` natively and emulated from the same random states; RBX points 64 bytes into the
// buffer and RCX holds a small index, which is all the memory forms below use.
void differential(const std::vector<std::uint8_t>& bytes, const char* form, std::uint64_t seed) {
  auto insn = hv::x86::decode(bytes, CpuMode::Long64);
  ASSERT_TRUE(insn) << form << ": " << insn.error().to_string();
  ASSERT_EQ(insn->length, bytes.size()) << form;
  hvtest::NativeOracle oracle(bytes);
  std::mt19937_64 random(seed);
  alignas(16) std::array<std::uint8_t, kBuffer> native{};
  std::array<std::uint8_t, kBuffer> emulated{};
  const auto base = reinterpret_cast<std::uint64_t>(native.data());  // test code: the oracle addresses host memory
  for (int n = 0; n < kCasesPerForm; ++n) {
    for (auto& b : native) b = static_cast<std::uint8_t>(random());
    emulated = native;
    hvtest::NativeState state;
    for (auto& r : state.regs) r = random();
    state.regs[3] = base + 64;           // RBX
    state.regs[1] = random() % 16;       // RCX: index
    state.rflags = 0x2 | (random() & kArithmeticFlags);
    const hvtest::NativeState before = state;
    oracle.run(state);

    auto regs = to_general(before, 0x1000);
    BufferMemory memory(base, emulated.data());
    auto r = hv::x86::execute(*insn, CpuMode::Long64, {}, regs, memory);
    ASSERT_TRUE(r) << form << " case " << n << ": " << r.error().to_string();
    const auto expected = to_general(state, 0x1000 + insn->length);
    EXPECT_EQ(regs.rax, expected.rax) << form << " case " << n;
    EXPECT_EQ(regs.rcx, expected.rcx) << form << " case " << n;
    EXPECT_EQ(regs.rdx, expected.rdx) << form << " case " << n;
    EXPECT_EQ(regs.rbx, expected.rbx) << form << " case " << n;
    EXPECT_EQ(regs.rbp, expected.rbp) << form << " case " << n;
    EXPECT_EQ(regs.rsi, expected.rsi) << form << " case " << n;
    EXPECT_EQ(regs.rdi, expected.rdi) << form << " case " << n;
    EXPECT_EQ(regs.r8, expected.r8) << form << " case " << n;
    EXPECT_EQ(regs.r9, expected.r9) << form << " case " << n;
    EXPECT_EQ(regs.r10, expected.r10) << form << " case " << n;
    EXPECT_EQ(regs.r11, expected.r11) << form << " case " << n;
    EXPECT_EQ(regs.r12, expected.r12) << form << " case " << n;
    EXPECT_EQ(regs.r13, expected.r13) << form << " case " << n;
    EXPECT_EQ(regs.r14, expected.r14) << form << " case " << n;
    EXPECT_EQ(regs.r15, expected.r15) << form << " case " << n;
    EXPECT_EQ(regs.rflags & kArithmeticFlags, expected.rflags & kArithmeticFlags) << form << " case " << n;
    EXPECT_EQ(regs.rip, expected.rip) << form;
    ASSERT_EQ(std::memcmp(native.data(), emulated.data(), kBuffer), 0) << form << " case " << n << ": memory differs";
    if (::testing::Test::HasFailure()) return;  // one reproducible failing case is enough
  }
}

struct Form {
  const char* name;
  std::vector<std::uint8_t> bytes;  // memory operands use [rbx+disp8] or [rbx+rcx*4+disp8]
};

const std::vector<Form>& data_movement_forms() {
  static const std::vector<Form> forms = {
      {"mov r/m8, r8 (dl)", {0x88, 0x53, 0x10}},
      {"mov r/m8, r8 (ah, no REX)", {0x88, 0x63, 0x11}},
      {"mov r/m8, r8 (sil, REX)", {0x40, 0x88, 0x73, 0x12}},
      {"mov r/m16, r16", {0x66, 0x89, 0x53, 0x13}},
      {"mov r/m32, r32 (SIB)", {0x89, 0x54, 0x8b, 0x08}},
      {"mov r/m64, r64 (REX.W+R, r9)", {0x4c, 0x89, 0x4b, 0x18}},
      {"mov r8, r/m8 (bh)", {0x8a, 0x7b, 0x05}},
      {"mov r16, r/m16", {0x66, 0x8b, 0x53, 0x22}},
      {"mov r32, r/m32 (zero-extends)", {0x8b, 0x53, 0x21}},
      {"mov r64, r/m64 (r14, SIB)", {0x4c, 0x8b, 0x74, 0x8b, 0x03}},
      {"mov r/m8, imm8", {0xc6, 0x43, 0x07, 0xa5}},
      {"mov r/m16, imm16", {0x66, 0xc7, 0x43, 0x09, 0x34, 0x12}},
      {"mov r/m32, imm32", {0xc7, 0x43, 0x0b, 0xef, 0xbe, 0xad, 0xde}},
      {"mov r/m64, imm32 (sign-extended)", {0x48, 0xc7, 0x43, 0x0d, 0x00, 0x00, 0x00, 0x80}},
      {"movzx r32, r/m8", {0x0f, 0xb6, 0x53, 0x31}},
      {"movzx r16, r/m8", {0x66, 0x0f, 0xb6, 0x53, 0x31}},
      {"movzx r64, r/m16 (r11)", {0x4c, 0x0f, 0xb7, 0x5b, 0x33}},
      {"movsx r32, r/m8", {0x0f, 0xbe, 0x53, 0x35}},
      {"movsx r64, r/m16", {0x48, 0x0f, 0xbf, 0x53, 0x37}},
      {"movsx r16, r/m8", {0x66, 0x0f, 0xbe, 0x53, 0x39}},
      {"movsxd r64, r/m32", {0x48, 0x63, 0x53, 0x3b}},
  };
  return forms;
}

TEST(X86Executor, DataMovementMatchesTheHostCpu) {
  std::uint64_t seed = 0x68766b6974;  // fixed: failures reproduce
  for (const auto& form : data_movement_forms()) {
    differential(form.bytes, form.name, seed++);
    if (HasFailure()) return;
  }
}

TEST(X86Executor, NotYetExecutedMnemonicsAreUnsupportedAndChangeNothing) {
  auto insn = hv::x86::decode(std::vector<std::uint8_t>{0x01, 0x03}, CpuMode::Long64);  // add [rbx], eax
  ASSERT_TRUE(insn);
  hv::GeneralRegisters regs;
  regs.rip = 0x1000;
  const auto before = regs;
  std::array<std::uint8_t, kBuffer> copy{};
  BufferMemory memory(0x10000, copy.data());
  auto r = hv::x86::execute(*insn, CpuMode::Long64, {}, regs, memory);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::Unsupported);
  EXPECT_EQ(regs, before);
}

TEST(X86Executor, FaultingMemoryAccessLeavesRegistersUnchanged) {
  auto insn = hv::x86::decode(std::vector<std::uint8_t>{0x8b, 0x03}, CpuMode::Long64);  // mov eax, [rbx]
  ASSERT_TRUE(insn);
  hv::GeneralRegisters regs;
  regs.rbx = 0xdead0000;  // outside the memory below
  regs.rip = 0x1000;
  const auto before = regs;
  std::array<std::uint8_t, kBuffer> copy{};
  BufferMemory memory(0x10000, copy.data());
  ASSERT_FALSE(hv::x86::execute(*insn, CpuMode::Long64, {}, regs, memory));
  EXPECT_EQ(regs, before);
}

TEST(X86Executor, SegmentBasesAndRipRelative) {
  std::array<std::uint8_t, kBuffer> copy{};
  copy[0x20] = 0x5a;
  BufferMemory memory(0x10000, copy.data());
  // mov al, fs:[0x20] with FS base 0x10000 (64-bit mode: FS/GS bases apply).
  auto fs = hv::x86::decode(std::vector<std::uint8_t>{0x64, 0x8a, 0x04, 0x25, 0x20, 0, 0, 0}, CpuMode::Long64);
  ASSERT_TRUE(fs);
  hv::GeneralRegisters regs;
  hv::x86::SegmentBases bases{};
  bases[static_cast<int>(hv::x86::SegmentRegister::Fs)] = 0x10000;
  ASSERT_TRUE(hv::x86::execute(*fs, CpuMode::Long64, bases, regs, memory));
  EXPECT_EQ(regs.rax & 0xff, 0x5aU);
  // mov al, [rip + 0x18] at RIP 0xfff8 + length 6 -> 0x10016.
  copy[0x16] = 0x77;
  auto rel = hv::x86::decode(std::vector<std::uint8_t>{0x8a, 0x05, 0x18, 0, 0, 0}, CpuMode::Long64);
  ASSERT_TRUE(rel);
  regs.rip = 0xfff8;
  ASSERT_TRUE(hv::x86::execute(*rel, CpuMode::Long64, {}, regs, memory));
  EXPECT_EQ(regs.rax & 0xff, 0x77U);
  EXPECT_EQ(regs.rip, 0xfffeU);
}

}  // namespace
