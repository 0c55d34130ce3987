// Port I/O: OUT and IN at each width, the IN value reaching the guest, and REP string I/O.
#include <cstring>
#include <string>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

CaseResult expect_out(Hypervisor& hypervisor, std::string_view guest, std::uint16_t port, std::uint8_t size,
                      std::uint64_t value) {
  auto t = TestVm::boot(hypervisor, {.guest = guest, .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.io.size() == 1, "expected one IO exit, got ", trace.io.size());
  const auto& io = trace.io[0];
  CONF_CHECK(io.direction == AccessDirection::Write, "OUT reported as a read");
  CONF_CHECK(io.port == port, "port ", hex(io.port), ", expected ", hex(port));
  CONF_CHECK(io.size == size, "size ", int(io.size), ", expected ", int(size));
  CONF_CHECK(io.data.size() == size, "data length ", io.data.size());
  CONF_CHECK(io.value() == value, "data ", hex(io.value()), ", expected ", hex(value));
  return CaseResult::pass();
}

// The guest INs from `port` and OUTs what it received to the report port.
CaseResult expect_in(Hypervisor& hypervisor, std::string_view guest, std::uint16_t port, std::uint8_t size,
                     std::optional<std::uint64_t> answer, std::uint64_t expected) {
  auto t = TestVm::boot(hypervisor, {.guest = guest, .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run(0, [&](std::uint64_t, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    if (!answer) return std::nullopt;
    std::vector<std::uint8_t> data(bytes);
    std::memcpy(data.data(), &*answer, std::min(bytes, sizeof(*answer)));
    return data;
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  CONF_CHECK(trace.io.size() == 2, "expected IN then OUT, got ", trace.io.size(), " IO exits");
  CONF_CHECK(trace.io[0].direction == AccessDirection::Read && trace.io[0].port == port && trace.io[0].size == size,
             "IN reported as port ", hex(trace.io[0].port), " size ", int(trace.io[0].size));
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{expected}, "guest received ",
             trace.reports().empty() ? std::string("nothing") : hex(trace.reports()[0]), ", expected ", hex(expected));
  return CaseResult::pass();
}

}  // namespace

CaseResult pio_out_byte(Hypervisor& h) { return expect_out(h, "pio_out_byte", 0x3f8, 1, 0xa5); }
CaseResult pio_out_word(Hypervisor& h) { return expect_out(h, "pio_out_word", 0x3fa, 2, 0xbeef); }
CaseResult pio_out_dword(Hypervisor& h) { return expect_out(h, "pio_out_dword", 0xcf8, 4, 0x80001234); }
CaseResult pio_in_byte(Hypervisor& h) { return expect_in(h, "pio_in_byte", 0x60, 1, 0x5a, 0x5a); }
CaseResult pio_in_word(Hypervisor& h) { return expect_in(h, "pio_in_word", 0x62, 2, 0xc0de, 0xc0de); }
CaseResult pio_in_dword(Hypervisor& h) { return expect_in(h, "pio_in_dword", 0xcfc, 4, 0xfeedface, 0xfeedface); }
CaseResult pio_in_unanswered_reads_all_ones(Hypervisor& h) {
  return expect_in(h, "pio_in_unanswered", 0x64, 4, std::nullopt, 0xffffffff);
}

CaseResult string_outsb_rep(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "string_outsb_rep", .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  std::string seen;
  for (const auto& io : trace.io) {
    CONF_CHECK(io.port == 0x3f8 && io.size == 1 && io.direction == AccessDirection::Write, "unexpected IO exit");
    CONF_CHECK(io.data.size() == 1, "an OUTSB element of ", io.data.size(), " bytes");
    seen.append(io.data.begin(), io.data.end());
  }
  CONF_CHECK(seen == "hvkit conformance", "guest wrote \"", seen, "\"");
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK((regs->rcx & 0xffff) == 0, "CX is ", hex(regs->rcx), " after REP OUTSB");
  return CaseResult::pass();
}

CaseResult string_insw_rep(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "string_insw_rep", .mode = CpuMode::Real});
  CONF_TRY(t, "boot");
  std::uint16_t next = 0x1000;
  auto trace = (*t)->run(0, [&](std::uint64_t, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    std::vector<std::uint8_t> data;
    for (std::size_t i = 0; i < bytes / 2; ++i, ++next) {
      data.push_back(static_cast<std::uint8_t>(next));
      data.push_back(static_cast<std::uint8_t>(next >> 8));
    }
    return data;
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  for (std::uint16_t i = 0; i < 8; ++i) {
    auto word = (*t)->memory().read_obj<std::uint16_t>(0x9000 + 2 * i);
    CONF_TRY(word, "read guest buffer");
    CONF_CHECK(*word == 0x1000 + i, "element ", i, " is ", hex(*word), ", expected ", hex(0x1000 + i));
  }
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
