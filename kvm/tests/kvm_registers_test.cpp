// Register state round trips through hvkit's own types on /dev/kvm.
#include "kvm_test_support.hpp"

namespace {

using hvtest::KvmVmTest;

TEST_F(KvmVmTest, GeneralRegistersRoundTrip) {
  hv::GeneralRegisters regs;
  std::uint64_t v = 0x0102030405060708ULL;
  for (auto* r : {&regs.rax, &regs.rbx, &regs.rcx, &regs.rdx, &regs.rsi, &regs.rdi, &regs.rsp, &regs.rbp, &regs.r8,
                  &regs.r9, &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14, &regs.r15}) {
    *r = v;
    v = v * 3 + 0x1111;
  }
  regs.rip = 0x1234;
  regs.rflags = 0x202;
  ASSERT_TRUE(vcpu->set_registers(regs));
  auto back = vcpu->get_registers();
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, regs);
}

TEST_F(KvmVmTest, SpecialRegistersRoundTrip) {
  auto sregs = vcpu->get_special_registers();
  ASSERT_TRUE(sregs);
  sregs->gdt = {.base = 0x5000, .limit = 0x27};
  sregs->idt = {.base = 0x6000, .limit = 0x3ff};
  sregs->cr2 = 0xdead000;
  sregs->cr3 = 0x3000;
  sregs->fs.base = 0x12340;
  sregs->fs.selector = 0x1234;
  ASSERT_TRUE(vcpu->set_special_registers(*sregs));
  auto back = vcpu->get_special_registers();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->gdt, sregs->gdt);
  EXPECT_EQ(back->idt, sregs->idt);
  EXPECT_EQ(back->cr2, sregs->cr2);
  EXPECT_EQ(back->cr3, sregs->cr3);
  EXPECT_EQ(back->fs, sregs->fs);
  EXPECT_EQ(back->cr0, sregs->cr0);
  EXPECT_EQ(back->efer, sregs->efer);
}

TEST_F(KvmVmTest, MsrsRoundTrip) {
  const hv::MsrEntry set[] = {{hv::msr::kSysenterCs, 0x10},
                              {hv::msr::kSysenterEsp, 0xffff8000},
                              {hv::msr::kSysenterEip, 0xffffffff81000000ULL}};
  ASSERT_TRUE(vcpu->set_msrs(set));
  hv::MsrEntry get[] = {{hv::msr::kSysenterCs, 0}, {hv::msr::kSysenterEsp, 0}, {hv::msr::kSysenterEip, 0}};
  ASSERT_TRUE(vcpu->get_msrs(get));
  EXPECT_EQ(get[0].value, 0x10U);
  EXPECT_EQ(get[1].value, 0xffff8000U);
  EXPECT_EQ(get[2].value, 0xffffffff81000000ULL);
}

TEST_F(KvmVmTest, TscWriteTakesEffectOrIsReportedUnsupported) {
  constexpr std::uint64_t kValue = std::uint64_t{1} << 40;
  const hv::MsrEntry tsc[] = {{hv::msr::kTsc, kValue}};
  auto r = vcpu->set_msrs(tsc);
  hv::MsrEntry now[] = {{hv::msr::kTsc, 0}};
  ASSERT_TRUE(vcpu->get_msrs(now));
  if (r) {
    EXPECT_GE(now[0].value, kValue) << "set_msrs reported success for a TSC write that did not apply";
    EXPECT_LT(now[0].value - kValue, std::uint64_t{1} << 32);
  } else {
    EXPECT_EQ(r.error().kind(), hv::ErrorKind::Unsupported) << r.error().to_string();
    EXPECT_NE(r.error().message().find("does not apply TSC writes"), std::string::npos);
  }
}

TEST_F(KvmVmTest, UnknownOrTooManyMsrsAreErrors) {
  hv::MsrEntry bogus[] = {{hv::msr::kTsc, 0}, {0xdeadbeef, 0}};
  auto r = vcpu->get_msrs(bogus);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("0xdeadbeef"), std::string::npos) << r.error().message();
  std::vector<hv::MsrEntry> many(257, {hv::msr::kTsc, 0});
  auto too_many = vcpu->get_msrs(many);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().kind(), hv::ErrorKind::InvalidArgument);
}

TEST_F(KvmVmTest, FpuRoundTrip) {
  auto fpu = vcpu->get_fpu();
  ASSERT_TRUE(fpu);
  for (std::uint8_t i = 0; i < 16; ++i) fpu->xmm[3][i] = static_cast<std::uint8_t>(0xa0 + i);
  fpu->mxcsr = 0x1f80 | 0x6000;  // round toward zero
  fpu->fcw = 0x27f;
  ASSERT_TRUE(vcpu->set_fpu(*fpu));
  auto back = vcpu->get_fpu();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->xmm[3], fpu->xmm[3]);
  EXPECT_EQ(back->mxcsr, fpu->mxcsr);
  EXPECT_EQ(back->fcw, fpu->fcw);
}

TEST_F(KvmVmTest, GuestSeesXmmAndMxcsrSetThroughFpuState) {
  // Long mode and FXSAVE: on KVM-on-PVM hosts, KVM's instruction emulator runs this guest and it has
  // neither real-mode SSE nor MOVD/STMXCSR; FXSAVE stores MXCSR (offset 24) and XMM3 (offset 208).
  ASSERT_NO_FATAL_FAILURE(enter_long_mode());
  auto fpu = vcpu->get_fpu();
  ASSERT_TRUE(fpu);
  fpu->xmm[3] = {0x78, 0x56, 0x34, 0x12};
  fpu->mxcsr = 0x7f80;  // round toward zero
  ASSERT_TRUE(vcpu->set_fpu(*fpu));
  load({0x0F, 0xAE, 0x04, 0x25, 0x00, 0x20, 0, 0,  // fxsave [0x2000]
        0xF4});
  auto e = run_once();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(e)) << hv::exit_name(e);
  EXPECT_EQ(*memory.read_obj<std::uint32_t>(0x2000 + 24), 0x7f80U) << "MXCSR";
  EXPECT_EQ(*memory.read_obj<std::uint32_t>(0x2000 + 160 + 3 * 16), 0x12345678U) << "XMM3";
}

TEST_F(KvmVmTest, XsaveRoundTripAndSizeCheck) {
  if (!hypervisor->capability(hv::Capability::Xsave)) GTEST_SKIP() << "host has no XSAVE";
  auto area = vcpu->get_xsave();
  ASSERT_TRUE(area) << area.error().to_string();
  ASSERT_GE(area->bytes.size(), 4096U);
  area->bytes[160 + 5 * 16] = 0x42;  // XMM5 byte 0 in the legacy region
  area->bytes[512] |= 0x2;           // XSTATE_BV: SSE state is present, not in its init state
  ASSERT_TRUE(vcpu->set_xsave(*area));
  auto back = vcpu->get_xsave();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->bytes[160 + 5 * 16], 0x42);
  EXPECT_EQ(vcpu->get_fpu()->xmm[5][0], 0x42) << "XSAVE and FPU views agree";
  hv::XsaveArea short_area{std::vector<std::uint8_t>(100)};
  auto r = vcpu->set_xsave(short_area);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::InvalidArgument);
}

}  // namespace
