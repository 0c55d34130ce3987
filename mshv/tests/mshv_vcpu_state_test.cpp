// hvkit's vCPU events and MP state as the Hyper-V registers that hold them (mshv_vcpu_state.hpp), bit by
// bit against docs/mshv-abi.md §7.1; and what one pending-interruption register cannot hold.
#include <gtest/gtest.h>

#include "mshv_vcpu_state.hpp"

namespace {

using hv::ErrorKind;
using hv::MpState;
using hv::VcpuEvents;
using hv::mshv::detail::EventRegisters;
using hv::mshv::detail::from_event_registers;
using hv::mshv::detail::from_internal_activity;
using hv::mshv::detail::to_event_registers;
using hv::mshv::detail::to_internal_activity;

TEST(MshvVcpuEvents, AnExceptionWithErrorCodeIsTypeThreeWithTheCodeInTheHighHalf) {
  VcpuEvents e;
  e.exception = {.injected = true, .vector = 14, .has_error_code = true, .error_code = 0xdead};
  e.interrupt_shadow = true;
  auto r = to_event_registers(e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pending_interruption, 0x0000dead000E0017u);
  EXPECT_EQ(r->interrupt_state, 0x1u);
  auto back = from_event_registers(*r);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, e);
}

TEST(MshvVcpuEvents, AnInterruptAndAnNmiEachRoundTrip) {
  VcpuEvents interrupt;
  interrupt.interrupt = {.injected = true, .vector = 0x41};
  interrupt.nmi_masked = true;
  auto r = to_event_registers(interrupt);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pending_interruption, 0x00410001u);
  EXPECT_EQ(r->interrupt_state, 0x2u);
  EXPECT_EQ(*from_event_registers(*r), interrupt);
  VcpuEvents nmi;
  nmi.nmi_injected = true;
  r = to_event_registers(nmi);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pending_interruption, 0x00020005u);
  EXPECT_EQ(*from_event_registers(*r), nmi);
  EXPECT_EQ(*from_event_registers({}), VcpuEvents{});
}

TEST(MshvVcpuEvents, TwoInjectedEventsOrALatchedNmiAreUnsupported) {
  VcpuEvents two_events;
  two_events.exception = {.injected = true, .vector = 6};
  two_events.nmi_injected = true;
  auto two = to_event_registers(two_events);
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().kind(), ErrorKind::Unsupported);
  VcpuEvents latched_nmi;
  latched_nmi.nmi_pending = true;
  auto latched = to_event_registers(latched_nmi);
  ASSERT_FALSE(latched);
  EXPECT_EQ(latched.error().kind(), ErrorKind::Unsupported);
}

TEST(MshvVcpuEvents, ASoftwareEventTypeIsUnsupported) {
  auto r = from_event_registers({.pending_interruption = 0x00800009 /* pending, type 4, vector 0x80 */});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Unsupported);
}

TEST(MshvMpState, StartupAndHaltSuspendAreInitReceivedAndHalted) {
  EXPECT_EQ(*to_internal_activity(MpState::Runnable), 0u);
  EXPECT_EQ(*to_internal_activity(MpState::InitReceived), 1u);
  EXPECT_EQ(*to_internal_activity(MpState::Halted), 2u);
  EXPECT_EQ(*from_internal_activity(0), MpState::Runnable);
  EXPECT_EQ(*from_internal_activity(1), MpState::InitReceived);
  EXPECT_EQ(*from_internal_activity(2), MpState::Halted);
  EXPECT_EQ(to_internal_activity(MpState::Uninitialized).error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(to_internal_activity(MpState::SipiReceived).error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(from_internal_activity(4).error().kind(), ErrorKind::Unsupported);  // idle suspend
}

}  // namespace
