// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// Guest-virtual addresses of intercepted instructions, through HVCALL_TRANSLATE_VIRTUAL_ADDRESS [§6].
#include <cstring>
#include <string>

#include "mshv_intercept.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

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
  // The guest's page tables gave a GPA: RAM, unmapped (MMIO), mapped without the access (a
  // read-only region's write), or claimed by an intercept [§6]; the backend routes the GPA itself. Cloud Hypervisor and
  // QEMU take only SUCCESS, relying on the message's own translation for the intercepted access; hvkit also takes the
  // GPA results, which mshv-sim reports for device pages, so that an instruction's second device access (MOVS between
  // devices, an access split over two pages) still has an address (docs/mshv.md, "Translations"). Anything else is a
  // guest page fault hvkit cannot inject.
  const bool gpa_valid =
      out.result_code == abi::kTranslateResultSuccess || out.result_code == abi::kTranslateResultGpaUnmapped ||
      out.result_code == abi::kTranslateResultGpaNoReadAccess ||
      out.result_code == abi::kTranslateResultGpaNoWriteAccess || out.result_code == abi::kTranslateResultIntercept;
  if (!gpa_valid) {
    return fail(ErrorKind::InvalidArgument, kRun,
                "guest address " + hex(gva) + " does not translate for " + (write ? "writing" : "reading") +
                    " (HV_TRANSLATE_GVA result " + std::to_string(out.result_code) + "): a guest page fault");
  }
  return (out.gpa_page << 12) | (gva & 0xfff);
}

}  // namespace hv::mshv::detail
