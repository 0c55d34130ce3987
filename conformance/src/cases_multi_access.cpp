// Instructions that make several device accesses: every backend hands them to the IoHandler in the
// same order, one call per access (per element of a string instruction), inside one run(), and the
// instruction's result in registers and memory is what the answers make it.
#include <cstring>
#include <string>
#include <vector>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

struct Expected {
  std::uint64_t address;
  std::uint8_t size;
  AccessDirection direction;
  std::uint64_t value;  // written, or answered
};

std::string describe(AccessDirection direction, std::uint64_t address, std::uint8_t size, std::uint64_t value) {
  return why(direction == AccessDirection::Read ? "R " : "W ", hex(address), "/", int(size), "=", hex(value));
}

template <class Record>
std::string describe_all(const std::vector<Record>& records) {
  std::string out;
  for (const auto& r : records) {
    if constexpr (std::is_same_v<Record, IoRecord>) {
      out += describe(r.direction, r.port, r.size, r.value()) + " ";
    } else {
      out += describe(r.direction, r.address, r.size, r.value()) + " ";
    }
  }
  return out.empty() ? "none" : out;
}

// Compares the accesses with `expected`, in order.
template <class Record>
CaseResult expect_sequence(const std::vector<Record>& records, const std::vector<Expected>& expected) {
  std::string want;
  for (const auto& e : expected) want += describe(e.direction, e.address, e.size, e.value) + " ";
  CONF_CHECK(records.size() == expected.size(), "accesses ", describe_all(records), "; expected ", want);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& r = records[i];
    const auto& e = expected[i];
    std::uint64_t address = 0;
    if constexpr (std::is_same_v<Record, IoRecord>) {
      address = r.port;
    } else {
      address = r.address;
    }
    CONF_CHECK(address == e.address && r.size == e.size && r.direction == e.direction && r.value() == e.value,
               "access ", i, " differs: ", describe_all(records), "; expected ", want);
  }
  return CaseResult::pass();
}

std::vector<std::uint8_t> little_endian(std::uint64_t value, std::size_t bytes) {
  std::vector<std::uint8_t> out(bytes);
  std::memcpy(out.data(), &value, std::min(bytes, sizeof value));
  return out;
}

}  // namespace

CaseResult mmio_read_modify_write(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "mmio_read_modify_write"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run(0, [](std::uint64_t address, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    if (address == kMmioWindow + 8) return little_endian(0x10, bytes);
    if (address == kMmioWindow + 16) return little_endian(0xaabbccdd, bytes);
    return std::nullopt;
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  const std::vector<Expected> expected = {
      {kMmioWindow + 8, 4, AccessDirection::Read, 0x10},
      {kMmioWindow + 8, 4, AccessDirection::Write, 0x15},
      {kMmioWindow + 16, 4, AccessDirection::Read, 0xaabbccdd},
      {kMmioWindow + 16, 4, AccessDirection::Write, 0x11223344},
  };
  if (auto r = expect_sequence(trace.mmio, expected); r.outcome != Outcome::Pass) return r;
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{0xaabbccdd}, "XCHG left EAX ",
             trace.reports().empty() ? std::string("unreported") : hex(trace.reports()[0]), ", expected 0xaabbccdd");
  return CaseResult::pass();
}

CaseResult mmio_movs_between_devices(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "mmio_movs_between_devices"});
  CONF_TRY(t, "boot");
  // Each source register answers its own offset, so a misplaced element shows.
  auto trace = (*t)->run(0, [](std::uint64_t address, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    return little_endian(0xc0de0000 + (address - kMmioWindow), bytes);
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  constexpr std::uint64_t kSrc = kMmioWindow, kDst = kMmioWindow + 0x100;
  const std::vector<Expected> expected = {
      {kSrc, 4, AccessDirection::Read, 0xc0de0000}, {kDst, 4, AccessDirection::Write, 0xc0de0000},
      {kSrc + 4, 2, AccessDirection::Read, 0x0004}, {kDst + 4, 2, AccessDirection::Write, 0x0004},
      {kSrc + 6, 2, AccessDirection::Read, 0x0006}, {kDst + 6, 2, AccessDirection::Write, 0x0006},
      {kSrc + 8, 2, AccessDirection::Read, 0x0008}, {kDst + 8, 2, AccessDirection::Write, 0x0008},
  };
  if (auto r = expect_sequence(trace.mmio, expected); r.outcome != Outcome::Pass) return r;
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  CONF_CHECK(regs->rcx == 0 && regs->rsi == kSrc + 10 && regs->rdi == kDst + 10, "after the MOVS: RCX ", hex(regs->rcx),
             " RSI ", hex(regs->rsi), " RDI ", hex(regs->rdi));
  return CaseResult::pass();
}

CaseResult string_io_across_pages(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "string_io_across_pages"});
  CONF_TRY(t, "boot");
  constexpr std::uint64_t kIn = kScratch + 0x1000 - 3, kOut = kScratch + 0x2000 - 3;
  const std::vector<std::uint8_t> source = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  CONF_TRY((*t)->memory().write(kOut, source, CrossRegion::Deny), "write the OUTS source");
  std::uint64_t next = 0x1000;
  auto trace = (*t)->run(0, [&](std::uint64_t, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    return little_endian(next++, bytes);
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  const std::vector<Expected> expected = {
      {0x60, 2, AccessDirection::Read, 0x1000},  {0x60, 2, AccessDirection::Read, 0x1001},
      {0x60, 2, AccessDirection::Read, 0x1002},  {0x60, 2, AccessDirection::Read, 0x1003},
      {0x61, 2, AccessDirection::Write, 0x0201}, {0x61, 2, AccessDirection::Write, 0x0403},
      {0x61, 2, AccessDirection::Write, 0x0605}, {0x61, 2, AccessDirection::Write, 0x0807},
  };
  if (auto r = expect_sequence(trace.io, expected); r.outcome != Outcome::Pass) return r;
  for (std::uint16_t i = 0; i < 4; ++i) {
    auto word = (*t)->memory().read_obj<std::uint16_t>(kIn + std::uint64_t{2} * i);
    CONF_TRY(word, "read the INS buffer");
    CONF_CHECK(*word == 0x1000 + i, "INS element ", i, " (at ", hex(kIn + std::uint64_t{2} * i), ") is ", hex(*word),
               ", expected ", hex(0x1000 + i));
  }
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
