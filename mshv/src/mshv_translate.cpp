// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// Guest-virtual addresses of intercepted instructions, through HVCALL_TRANSLATE_VIRTUAL_ADDRESS [§6],
// and, where that gives no address (a device page), the guest's own page tables.
#include <array>
#include <cstring>
#include <string>

#include "hv/x86_page_walk.hpp"
#include "mshv_intercept.hpp"
#include "mshv_registers.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;

namespace {

const char* to_string(x86::PageWalkResult r) {
  switch (r) {
    case x86::PageWalkResult::Success: return "success";
    case x86::PageWalkResult::PageNotPresent: return "page not present";
    case x86::PageWalkResult::PrivilegeViolation: return "privilege violation";
    case x86::PageWalkResult::InvalidPageTableFlags: return "invalid page table flags";
    case x86::PageWalkResult::TableNotReadable: return "a page table outside RAM";
  }
  return "unknown";
}

// The results that say the guest's page tables gave a GPA which is not accessible RAM: unmapped (a
// device), mapped without the access (a read-only region's write) or claimed by an intercept [§6].
bool gpa_result(std::uint32_t code) {
  return code == abi::kTranslateResultGpaUnmapped || code == abi::kTranslateResultGpaNoReadAccess ||
         code == abi::kTranslateResultGpaNoWriteAccess || code == abi::kTranslateResultIntercept;
}

}  // namespace

Result<std::uint64_t> MshvVcpu::translate(std::uint64_t gva, bool write) const {
  abi::HvInputTranslateVirtualAddress in{};
  in.vp_index = index_;
  // Validate the access the instruction makes, with the guest's own privilege checks: no
  // PRIVILEGE_EXEMPT (Cloud Hypervisor hypervisor/src/mshv/x86_64/emulator.rs, QEMU
  // target/i386/mshv translate_gva pass only VALIDATE_READ/WRITE).
  in.control_flags = write ? abi::kTranslateValidateWrite : abi::kTranslateValidateRead;
  in.gva_page = gva >> 12;
  std::uint8_t input[sizeof in];
  std::memcpy(input, &in, sizeof in);
  std::uint8_t output[sizeof(abi::HvOutputTranslateVirtualAddress)] = {};
  auto r = hypercall(vp_, abi::kHvcallTranslateVirtualAddress, 0, input, output, "HVCALL_TRANSLATE_VIRTUAL_ADDRESS");
  if (!r) return tl::unexpected(r.error());
  abi::HvOutputTranslateVirtualAddress out{};
  std::memcpy(&out, output, sizeof out);
  // Only SUCCESS promises a GPA (the TLFS: GpaPage "valid if success"; Cloud Hypervisor and QEMU take
  // nothing else). A device page is not SUCCESS, and an instruction's second device access (MOVS
  // between two devices, an access split over two pages) still needs its address: then the guest's
  // page tables are walked here, as OpenVMM's virt_mshv does for every address but the message's
  // (virt_support_x86emu translate.rs). docs/mshv.md, "Translations".
  if (out.result_code == abi::kTranslateResultSuccess) return (out.gpa_page << 12) | (gva & 0xfff);
  if (gpa_result(out.result_code)) return walk_guest_page_tables(gva, write);
  return fail(ErrorKind::InvalidArgument, kRun,
              "guest address " + hex(gva) + " does not translate for " + (write ? "writing" : "reading") +
                  " (HV_TRANSLATE_GVA result " + std::to_string(out.result_code) + "): a guest page fault");
}

Result<std::uint64_t> MshvVcpu::walk_guest_page_tables(std::uint64_t gva, bool write) const {
  const std::array<std::uint32_t, 6> names = {reg::kCr0, reg::kCr3, reg::kCr4, reg::kEfer, reg::kRflags, reg::kSs};
  std::array<abi::HvRegisterValue, names.size()> values{};
  // Through get(): the control registers by hypercall, RFLAGS from the register page while it is valid
  // (so an RFLAGS written there and not yet applied is the one walked with).
  if (auto r = get(names, values); !r) return tl::unexpected(r.error());
  abi::HvSegmentRegister ss{};
  std::memcpy(&ss, &values[5], sizeof ss);
  const x86::PagingRegisters regs{.cr0 = values[0].low,
                                  .cr3 = values[1].low,
                                  .cr4 = values[2].low,
                                  .efer = values[3].low,
                                  .rflags = values[4].low,
                                  .cpl = static_cast<std::uint8_t>((ss.attributes >> 5) & 3)};
  const auto walk = x86::walk_page_tables(
      regs, gva, write, [this](std::uint64_t gpa, std::span<std::uint8_t> out) { return memory_->read(gpa, out); });
  if (walk.result != x86::PageWalkResult::Success) {
    return fail(ErrorKind::InvalidArgument, kRun,
                "guest address " + hex(gva) + " does not translate for " + (write ? "writing" : "reading") +
                    " in the guest's page tables (" + to_string(walk.result) + "): a guest page fault");
  }
  return walk.gpa;
}

}  // namespace hv::mshv::detail
