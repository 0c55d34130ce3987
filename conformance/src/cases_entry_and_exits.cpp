// Entering the guest in each CPU mode, and the exits that end a guest.
#include <variant>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

CaseResult real_mode_entry(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "real_mode_entry", .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  const auto reports = trace.reports();
  CONF_CHECK(reports == (std::vector<std::uint64_t>{0x1234, 0, kRealModeStack}),
             "expected reports 0x1234, CS=0, SP=0x8000; got ", reports.size(), " reports");
  CONF_CHECK(trace.io[0].size == 2, "OUT AX reported size ", int(trace.io[0].size));
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rip == (*t)->image_end(), "RIP after HLT is ", hex(regs->rip), ", expected ",
             hex((*t)->image_end()));
  return CaseResult::pass();
}

CaseResult long_mode_entry(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "long_mode_entry"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{0x08}, "CS selector read by the guest is not 0x08");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rbx == 0x1122334455667788ULL, "RBX is ", hex(regs->rbx), ": the guest did not run 64-bit code");
  auto sregs = (*t)->vcpu().get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  CONF_CHECK((sregs->efer & 0x500) == 0x500, "EFER.LME|LMA not set: ", hex(sregs->efer));
  CONF_CHECK(sregs->cs.l, "CS.L is clear");
  return CaseResult::pass();
}

CaseResult halt(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.io.empty() && trace.mmio.empty(), "HLT produced IO or MMIO exits");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rip == (*t)->image_end(), "RIP after HLT is ", hex(regs->rip));
  return CaseResult::pass();
}

CaseResult triple_fault_is_shutdown(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "triple_fault"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "shutdown");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
