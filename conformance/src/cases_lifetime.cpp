// What each backend defines for the mistakes and edge cases of ownership and state: a vCPU that
// outlives its Vm, one host range mapped twice, device writes and the dirty log, and a vCPU run
// without any register set.
#include <algorithm>
#include <variant>

#include "cases.hpp"
#include "guest_images.hpp"
#include "hv/x86_boot.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

// Records the guest's port writes; nothing else is expected.
class PortLog final : public IoHandler {
 public:
  std::vector<std::pair<std::uint16_t, std::uint8_t>> writes;
  std::size_t other = 0;
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    writes.emplace_back(port, data.empty() ? 0 : data[0]);
  }
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override { ++other; }
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override { ++other; }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override { ++other; }
};

}  // namespace

// Destroy the Vm first, drop every other reference to its RAM, then run the vCPU: the kernel still
// maps that RAM through the vCPU, so the vCPU must keep it alive (the guest writes it and reads it
// back) and release it when it goes.
CaseResult vcpu_keeps_memory_alive(Hypervisor& hypervisor) {
  auto vm = hypervisor.create_vm();
  CONF_TRY(vm, "create_vm");
  std::weak_ptr<GuestRegion> watch;
  {
    auto ram = GuestRegion::create(0, 0x10000);
    CONF_TRY(ram, "create RAM");
    // mov byte [0x2000], 0x5a ; mov al, [0x2000] ; out 0x80, al ; hlt
    const std::array<std::uint8_t, 11> code = {0xC6, 0x06, 0x00, 0x20, 0x5A, 0xA0, 0x00, 0x20, 0xE6, 0x80, 0xF4};
    std::copy(code.begin(), code.end(), (*ram)->host().begin() + 0x1000);
    watch = *ram;
    CONF_TRY((*vm)->map_memory(*ram), "map RAM");
  }
  auto vcpu = (*vm)->create_vcpu(0);
  CONF_TRY(vcpu, "create_vcpu");
  CONF_TRY(x86::enter_real_mode(**vcpu, 0x1000, 0x8000), "enter real mode");
  vm->reset();  // the Vm is gone; only the vCPU can still reach the RAM
  CONF_CHECK(!watch.expired(), "the RAM was released while a vCPU of its VM still exists");
  PortLog io;
  auto exit = (*vcpu)->run(io);
  CONF_TRY(exit, "run after the Vm was destroyed");
  CONF_CHECK(std::holds_alternative<HaltExit>(*exit), "the guest ended with ", exit_name(*exit), ", expected halt");
  CONF_CHECK(io.writes == (std::vector<std::pair<std::uint16_t, std::uint8_t>>{{kReportPort, 0x5a}}),
             "the guest did not read back what it wrote to its RAM (", io.writes.size(), " port writes)");
  vcpu->reset();
  CONF_CHECK(watch.expired(), "the RAM outlived its last vCPU");
  return CaseResult::pass();
}

// One host range at two guest addresses is refused with Overlap on every backend.
CaseResult error_aliased_host_memory(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  const auto& ram = *(*t)->memory().find_region(0);
  auto alias = GuestRegion::borrow(0x400000, ram->host().subspan(0x100000, 0x10000));
  CONF_TRY(alias, "borrow RAM's host pages");
  auto mapped = (*t)->vm().map_memory(*alias);
  CONF_CHECK(!mapped, "RAM's host pages were mapped again at 0x400000");
  CONF_CHECK(mapped.error().kind() == ErrorKind::Overlap, "aliasing gave ", to_string(mapped.error().kind()),
             ", documented: Overlap (", mapped.error().to_string(), ")");
  CONF_CHECK((*t)->memory().find_region(0x400000) == nullptr, "memory() holds the refused alias");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  return CaseResult::pass();
}

// What devices write through the Vm's memory() is in the dirty log, next to what the guest wrote.
CaseResult dirty_log_includes_device_writes(Hypervisor& hypervisor) {
  if (auto cap = hypervisor.capability(Capability::DirtyLog); !cap) return from_error(cap.error(), "dirty logging");
  auto t = TestVm::boot(hypervisor, {.guest = "dirty_log"});
  CONF_TRY(t, "boot");
  auto slot = (*t)->add_region(0x500000, 16 * kPageSize, {.log_dirty = true});
  CONF_TRY(slot, "map logged region");
  const auto memory = (*t)->vm().memory();
  CONF_TRY(memory->write_obj<std::uint32_t>(0x502010, 0xabcd), "device write (a used ring)");
  CONF_TRY(memory->write_obj<std::uint16_t>(0x50effe, 0x1234), "device write across pages");
  auto trace = (*t)->run();  // the guest writes 0x501000, 0x505000, 0x50f000
  CONF_EXPECT_EXIT(trace, "halt");
  auto log = (*t)->vm().fetch_and_clear_dirty_log(*slot);
  CONF_TRY(log, "fetch dirty log");
  const auto dirty = log->dirty_addresses();
  const std::vector<std::uint64_t> expected = {0x501000, 0x502000, 0x505000, 0x50e000, 0x50f000};
  CONF_CHECK(dirty == expected, "dirty pages: ", dirty.size(),
             " reported, expected the guest's 0x501000, 0x505000, 0x50f000 and the devices' 0x502000, 0x50e000");
  auto cleared = (*t)->vm().fetch_and_clear_dirty_log(*slot);
  CONF_TRY(cleared, "fetch dirty log");
  CONF_CHECK(cleared->dirty_addresses().empty(), "fetch did not clear the device writes");
  return CaseResult::pass();
}

// A vCPU whose registers were never set is in the x86 reset state on every backend (documented in
// docs/guide.md): real mode, CS selector 0xf000 with base 0xffff0000, IP 0xfff0, RFLAGS 0x2, CR0 with
// PE and PG clear. Run as it is, it executes from guest-physical 0xfffffff0.
CaseResult reset_state_runs_the_reset_vector(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt", .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto fresh = (*t)->vm().create_vcpu(1);
  CONF_TRY(fresh, "create a vCPU and set nothing");
  auto regs = (*fresh)->get_registers();
  CONF_TRY(regs, "get_registers");
  auto sregs = (*fresh)->get_special_registers();
  CONF_TRY(sregs, "get_special_registers");
  CONF_CHECK(regs->rip == 0xfff0 && regs->rflags == 0x2, "reset RIP ", hex(regs->rip), " RFLAGS ", hex(regs->rflags),
             ", expected 0xfff0 and 0x2");
  CONF_CHECK(sregs->cs.selector == 0xf000 && sregs->cs.base == 0xffff0000, "reset CS ", hex(sregs->cs.selector),
             " base ", hex(sregs->cs.base), ", expected 0xf000 base 0xffff0000");
  CONF_CHECK((sregs->cr0 & 0x80000001) == 0 && (sregs->efer & 0x500) == 0, "reset CR0 ", hex(sregs->cr0), " EFER ",
             hex(sregs->efer), ": paging, protection or long mode on");
  // The reset vector's 64 KiB: code at its last 16 bytes.
  auto rom = GuestRegion::create(0xffff0000, 0x10000);
  CONF_TRY(rom, "create the reset region");
  const auto code = guest_image("reset_vector");
  CONF_CHECK(!code.empty() && code.size() <= 16, "reset_vector guest is ", code.size(), " bytes");
  std::copy(code.begin(), code.end(), (*rom)->host().begin() + 0xfff0);
  CONF_TRY((*t)->vm().map_memory(*rom), "map the reset region");
  PortLog io;
  auto exit = (*fresh)->run(io);
  CONF_TRY(exit, "run a vCPU with no registers set");
  CONF_CHECK(std::holds_alternative<HaltExit>(*exit), "the reset vector ended with ", exit_name(*exit));
  CONF_CHECK(io.writes == (std::vector<std::pair<std::uint16_t, std::uint8_t>>{{kReportPort, 0x42}}),
             "the code at 0xfffffff0 did not run (", io.writes.size(), " port writes)");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
