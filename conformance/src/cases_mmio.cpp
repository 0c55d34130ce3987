// MMIO: writes and reads at 1, 2, 4 and 8 bytes through several MOV forms, and unmapped memory.
#include <cstring>

#include "cases.hpp"
#include "test_vm.hpp"

namespace hv::conformance::cases {

namespace {

CaseResult expect_mmio_write(Hypervisor& hypervisor, std::string_view guest, std::uint64_t address, std::uint8_t size,
                             std::uint64_t value) {
  auto t = TestVm::boot(hypervisor, {.guest = guest});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run();
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.mmio.size() == 1, "expected one MMIO exit, got ", trace.mmio.size());
  const auto& m = trace.mmio[0];
  CONF_CHECK(m.direction == AccessDirection::Write, "write reported as a read");
  CONF_CHECK(m.address == address, "address ", hex(m.address), ", expected ", hex(address));
  CONF_CHECK(m.size == size && m.data.size() == size, "size ", int(m.size), ", expected ", int(size));
  CONF_CHECK(m.value() == value, "data ", hex(m.value()), ", expected ", hex(value));
  return CaseResult::pass();
}

// The guest reads `size` bytes at `address` into a register; the VMM answers `answer`.
template <class RegisterOf>
CaseResult expect_mmio_read(Hypervisor& hypervisor, std::string_view guest, std::uint64_t address, std::uint8_t size,
                            std::uint64_t answer, RegisterOf register_of, std::uint64_t expected) {
  auto t = TestVm::boot(hypervisor, {.guest = guest});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run(0, [&](std::uint64_t, std::size_t bytes) -> std::optional<std::vector<std::uint8_t>> {
    std::vector<std::uint8_t> data(bytes);
    std::memcpy(data.data(), &answer, std::min(bytes, sizeof answer));
    return data;
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.error.empty(), "the responder failed: ", trace.error);
  CONF_CHECK(trace.mmio.size() == 1, "expected one MMIO exit, got ", trace.mmio.size());
  const auto& m = trace.mmio[0];
  CONF_CHECK(m.direction == AccessDirection::Read, "read reported as a write");
  CONF_CHECK(m.address == address, "address ", hex(m.address), ", expected ", hex(address));
  CONF_CHECK(m.size == size, "size ", int(m.size), ", expected ", int(size));
  auto regs = (*t)->vcpu().get_registers();
  CONF_TRY(regs, "get_registers");
  const std::uint64_t got = register_of(*regs);
  CONF_CHECK(got == expected, "register holds ", hex(got), ", expected ", hex(expected));
  return CaseResult::pass();
}

}  // namespace

CaseResult mmio_write_byte(Hypervisor& h) { return expect_mmio_write(h, "mmio_write_byte", kMmioWindow, 1, 0xab); }
CaseResult mmio_write_word_imm(Hypervisor& h) {
  return expect_mmio_write(h, "mmio_write_word_imm", kMmioWindow + 2, 2, 0xbeef);
}
CaseResult mmio_write_dword_sib(Hypervisor& h) {
  return expect_mmio_write(h, "mmio_write_dword_sib", kMmioWindow + 16, 4, 0xdeadbeef);
}
CaseResult mmio_write_qword_rex(Hypervisor& h) {
  return expect_mmio_write(h, "mmio_write_qword_rex", kMmioWindow + 8, 8, 0x0123456789abcdefULL);
}
CaseResult mmio_write_moffs(Hypervisor& h) {
  return expect_mmio_write(h, "mmio_write_moffs", kMmioWindow + 0x40, 4, 0x5a5a5a5a);
}
CaseResult mmio_read_byte(Hypervisor& h) {
  return expect_mmio_read(
      h, "mmio_read_byte", kMmioWindow, 1, 0x5a, [](const GeneralRegisters& r) { return r.rax; },
      0x111111111111115aULL);
}
CaseResult mmio_read_word_movzx(Hypervisor& h) {
  return expect_mmio_read(
      h, "mmio_read_word_movzx", kMmioWindow + 2, 2, 0x8001, [](const GeneralRegisters& r) { return r.rcx; }, 0x8001);
}
CaseResult mmio_read_dword_movsxd(Hypervisor& h) {
  return expect_mmio_read(
      h, "mmio_read_dword_movsxd", kMmioWindow + 4, 4, 0x80000000, [](const GeneralRegisters& r) { return r.rdx; },
      0xffffffff80000000ULL);
}
CaseResult mmio_read_qword(Hypervisor& h) {
  return expect_mmio_read(
      h, "mmio_read_qword", kMmioWindow + 8, 8, 0x0807060504030201ULL, [](const GeneralRegisters& r) { return r.r10; },
      0x0807060504030201ULL);
}
CaseResult mmio_read_moffs(Hypervisor& h) {
  return expect_mmio_read(
      h, "mmio_read_moffs", kMmioWindow + 0x40, 4, 0xcafef00d, [](const GeneralRegisters& r) { return r.rax; },
      0xcafef00d);
}

CaseResult unmapped_access_exits(Hypervisor& hypervisor) {
  auto t = TestVm::boot(hypervisor, {.guest = "unmapped_access"});
  CONF_TRY(t, "boot");
  auto trace = (*t)->run(0, [](std::uint64_t, std::size_t) -> std::optional<std::vector<std::uint8_t>> {
    return std::vector<std::uint8_t>{0x0d, 0xf0, 0x0d, 0x60};
  });
  CONF_EXPECT_EXIT(trace, "halt");
  CONF_CHECK(trace.mmio.size() == 1 && trace.mmio[0].address == 0x7ff00000 &&
                 trace.mmio[0].direction == AccessDirection::Read && trace.mmio[0].size == 4,
             "a read of unmapped GPA 0x7ff00000 did not exit as a 4-byte MMIO read");
  CONF_CHECK(trace.reports() == std::vector<std::uint64_t>{0x600df00d}, "the answer did not reach the guest");
  return CaseResult::pass();
}

}  // namespace hv::conformance::cases
