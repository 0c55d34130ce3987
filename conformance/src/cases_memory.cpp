// Guest memory: read-only regions, mapping changes between runs, visibility both ways, dirty logging.
#include <algorithm>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {
Result<std::uint64_t> capability(Hypervisor& hypervisor, Capability c) { return hypervisor.capability(c); }
}  // namespace

CaseResult readonly_region(Hypervisor& hypervisor) {
  CONF_TRY(capability(hypervisor, Capability::ReadOnlyMemory), "read-only memory");
  auto t = TestVm::boot(hypervisor, {.guest = "readonly_region"});
  CONF_TRY(t, "boot");
  auto rom = GuestRegion::create(0x300000, 0x1000);
  CONF_TRY(rom, "create region");
  (*rom)->host()[0] = 0x41;
  CONF_TRY((*t)->vm().map_memory(*rom, {.read_only = true}), "map read-only");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.mmio.size() == 1, "expected exactly the write to exit, got ", trace.mmio.size(), " MMIO exits");
  const auto& w = trace.mmio[0];
  CONF_CHECK(w.direction == AccessDirection::Write && w.address == 0x300000 && w.size == 1 && w.value() == 0x42,
             "the write exited as ", w.direction == AccessDirection::Write ? "write" : "read", " of ", hex(w.value()),
             " at ", hex(w.address));
  CONF_CHECK((*rom)->host()[0] == 0x41, "the guest's write reached read-only memory");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK((regs->rbx & 0xff) == 0x41, "a read after the write returned ", hex(regs->rbx & 0xff));
  return CaseResult::pass();
}

CaseResult map_unmap_remap(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "map_unmap_remap"});
  CONF_TRY(t, "boot");
  auto region = GuestRegion::create(0x400000, 0x1000);
  CONF_TRY(region, "create region");
  const std::uint32_t in_memory = 0x11223344;
  auto slot = (*t)->vm().map_memory(*region);
  CONF_TRY(slot, "map");
  CONF_TRY((*t)->memory().write_obj(0x400000, in_memory), "fill region");
  auto answer = [](std::uint64_t, std::size_t) -> std::optional<std::vector<std::uint8_t>> {
    return std::vector<std::uint8_t>{0xee, 0xee, 0xee, 0xee};
  };
  auto mapped = (*t)->run(0, answer);
  CONF_EXPECT_EXIT(mapped, "halt");
  CONF_CHECK(mapped.mmio.empty() && mapped.reports() == std::vector<std::uint64_t>{in_memory},
             "while mapped, the guest did not read the region's memory");

  CONF_TRY((*t)->vm().unmap_memory(*slot), "unmap");
  CONF_TRY((*t)->restart(), "restart");
  auto unmapped = (*t)->run(0, answer);
  CONF_EXPECT_EXIT(unmapped, "halt");
  CONF_CHECK(unmapped.mmio.size() == 1 && unmapped.mmio[0].address == 0x400000,
             "after unmap, the read did not exit as MMIO at 0x400000");
  CONF_CHECK(unmapped.reports() == std::vector<std::uint64_t>{0xeeeeeeee},
             "after unmap, the MMIO answer did not reach the guest");

  CONF_TRY((*t)->vm().map_memory(*region), "remap");
  CONF_TRY((*t)->restart(), "restart");
  auto remapped = (*t)->run(0, answer);
  CONF_EXPECT_EXIT(remapped, "halt");
  CONF_CHECK(remapped.mmio.empty() && remapped.reports() == std::vector<std::uint64_t>{in_memory},
             "after remap, the guest did not read the region's memory");
  return CaseResult::pass();
}

CaseResult guest_writes_visible_to_host(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "guest_writes_visible"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  for (std::uint64_t i = 0; i < 64; ++i) {
    auto v = (*t)->memory().read_obj<std::uint64_t>(kScratch + 8 * i);
    CONF_TRY(v, "read guest memory");
    CONF_CHECK(*v == 0x0123456789abcdefULL, "qword ", i, " written by the guest reads ", hex(*v), " on the host");
  }
  return CaseResult::pass();
}

CaseResult host_writes_visible_to_guest(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "host_writes_visible"});
  CONF_TRY(t, "boot");
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 16; ++i) {
    const std::uint64_t v = 0x1000000000ULL * (i + 1) + i;
    sum += v;
    CONF_TRY((*t)->memory().write_obj(kScratch + 8 * i, v), "write guest memory");
  }
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rbx == sum, "guest summed ", hex(regs->rbx), ", expected ", hex(sum));
  return CaseResult::pass();
}

CaseResult dirty_log_exact_pages(Hypervisor& hypervisor) {
  CONF_TRY(capability(hypervisor, Capability::DirtyLog), "dirty logging");
  auto t = TestVm::boot(hypervisor, {.guest = "dirty_log"});
  CONF_TRY(t, "boot");
  auto slot = (*t)->add_region(0x500000, 16 * kPageSize, {.log_dirty = true});
  CONF_TRY(slot, "map logged region");
  auto before = (*t)->vm().fetch_and_clear_dirty_log(*slot);
  CONF_TRY(before, "fetch dirty log");
  CONF_CHECK(before->dirty_addresses().empty(), "pages dirty before the guest ran");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  auto after = (*t)->vm().fetch_and_clear_dirty_log(*slot);
  CONF_TRY(after, "fetch dirty log");
  const auto dirty = after->dirty_addresses();
  CONF_CHECK(dirty == (std::vector<std::uint64_t>{0x501000, 0x505000, 0x50f000}), "dirty pages: ", dirty.size(),
             " reported, expected exactly 0x501000, 0x505000, 0x50f000");
  auto cleared = (*t)->vm().fetch_and_clear_dirty_log(*slot);
  CONF_TRY(cleared, "fetch dirty log");
  CONF_CHECK(cleared->dirty_addresses().empty(), "fetch did not clear the log");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
