// Bad requests give the documented error kinds, and the VM still runs a guest afterwards.
#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

template <class R>
CaseResult expect_error(const R& result, ErrorKind kind, std::string_view what) {
  CONF_CHECK(!result, what, " was accepted");
  CONF_CHECK(result.error().kind() == kind, what, " gave ", to_string(result.error().kind()),
             ", documented: ", to_string(kind), " (", result.error().to_string(), ")");
  return CaseResult::pass();
}

// Returns from the calling case, as CONF_TRY does. NOLINTNEXTLINE(cppcoreguidelines-macro-usage)
#define CONF_EXPECT_ERROR(expr, kind, what)                                                                    \
  do {                                                                                                         \
    if (auto conf_e_ = expect_error((expr), (kind), (what)); conf_e_.outcome != Outcome::Pass) return conf_e_; \
  } while (0)

CaseResult still_runs(TestVm& t) {
  CONF_TRY(t.restart(), "restart");
  auto trace = t.run();
  CONF_EXPECT_EXIT(trace, "halt");
  return CaseResult::pass();
}

}  // namespace

CaseResult error_overlapping_region(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  auto inside_ram = GuestRegion::create(0x100000, 0x1000);
  CONF_TRY(inside_ram, "create region");
  CONF_EXPECT_ERROR((*t)->vm().map_memory(*inside_ram), ErrorKind::Overlap, "mapping a region inside RAM");
  auto straddling = GuestRegion::create(0x1ff000, 0x2000);  // last RAM page and the next one
  CONF_TRY(straddling, "create region");
  CONF_EXPECT_ERROR((*t)->vm().map_memory(*straddling), ErrorKind::Overlap, "mapping a region across the end of RAM");
  CONF_EXPECT_ERROR(GuestRegion::create(0xfffffffffffff000ULL, 0x2000), ErrorKind::OutOfRange,
                    "a region wrapping past 2^64");
  return still_runs(**t);
}

CaseResult error_vcpu_id(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "halt"});
  CONF_TRY(t, "boot");
  CONF_EXPECT_ERROR((*t)->vm().create_vcpu(0xffffffffU), ErrorKind::OutOfRange, "vCPU id 2^32-1");
  CONF_EXPECT_ERROR((*t)->vm().create_vcpu(0), ErrorKind::AlreadyExists, "a second vCPU 0");
  return still_runs(**t);
}

CaseResult error_bad_sizes(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "pio_in_byte", .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto event = EventFd::create();
  CONF_TRY(event, "eventfd");
  CONF_EXPECT_ERROR(
      (*t)->vm().register_ioeventfd(
          *event, {.space = IoEventSpace::Mmio, .address = kMmioWindow, .length = 3, .datamatch = std::nullopt}),
      ErrorKind::InvalidArgument, "a 3-byte ioeventfd");
  CONF_EXPECT_ERROR(GuestRegion::create(0x300800, 0x1000), ErrorKind::InvalidArgument, "a misaligned region");
  CONF_EXPECT_ERROR((*t)->memory().read(0x1000, std::span<std::uint8_t>()), ErrorKind::InvalidArgument,
                    "a zero-length guest memory read");
  // The guest (pio_in_byte) still runs: its IN gets the responder's byte and reports it.
  auto trace = (*t)->run(0, [](std::uint64_t, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    return std::vector<std::uint8_t>(bytes, 0x7e);
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{0x7e}, "the answer to the IN did not reach the guest");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
