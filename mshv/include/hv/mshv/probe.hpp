#pragma once
// A short scripted session on an MSHV system, driven through the ABI itself rather than through the
// backend, so that what the hypervisor says arrives unedited: one IO intercept and one memory
// intercept (the raw messages and the registers around them), HLT (the RIP in the HALT message
// against the HLT's address, and RIP after it), dirty-page tracking turned on and off, and the VP
// register page around each intercept. One run on
// a Hyper-V root partition settles the open questions of docs/mshv.md; `hvctl mshv-probe` prints it.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hv/error.hpp"
#include "hv/mshv/system.hpp"

namespace hv::mshv {

using NamedValues = std::vector<std::pair<std::string, std::uint64_t>>;

struct ProbeIntercept {
  std::string step;                       // "io", "memory", "halt"
  std::string message_type;               // "X64_IO_PORT_INTERCEPT", ...
  std::vector<std::uint8_t> message;      // the 256 bytes MSHV_RUN_VP returned
  std::uint64_t instruction_address = 0;  // where the script's instruction is
  std::uint64_t header_rip = 0;           // the intercept header's RIP
  std::uint8_t instruction_length = 0;    // the header's bits 0-3
  NamedValues registers_at_intercept;     // read right after the message
  NamedValues registers_after;            // read after the probe completed the instruction (not for halt)
};

struct ProbeDirtyLog {
  std::uint64_t pages = 0;                     // of the one RAM region
  std::string enable;                          // "ok" or the error
  std::vector<std::uint8_t> first_bitmap;      // DIRTY/CLEAR right after enabling (bit n: page n)
  std::string first_bitmap_error;              // empty when read
  std::vector<std::uint8_t> after_run_bitmap;  // DIRTY/CLEAR after the guest stored to one page
  std::string after_run_bitmap_error;
  std::uint64_t stored_page = 0;  // the page the guest wrote
  std::string disable_directly;   // clearing GPA_PAGE_ACCESS_TRACKING with dirty bits cleared
  std::string set_all_dirty;      // GPAP op SET on the region ("not tried" if the above worked)
  std::string disable_after_set;
};

// HVCALL_TRANSLATE_VIRTUAL_ADDRESS of the device page 0x9000 (no RAM; real mode, so GVA = GPA) while
// the VP stands at the memory intercept: what the hypervisor answers for a device page with
// VALIDATE_READ and with no flags, and what it leaves in GpaPage (docs/mshv.md, "Translations").
struct ProbeTranslation {
  std::uint64_t gva = 0;
  std::string flags;   // "validate_read" or "none"
  std::string status;  // "ok" or the hypercall's error
  std::uint32_t result_code = 0;
  std::uint64_t gpa_page = 0;
};

// The VP register page (docs/mshv.md, "The register page"): whether it maps, and at each intercept
// whether `isvalid` is set and the RIP it holds, then the same right after the probe wrote RIP with
// HVCALL_SET_VP_REGISTERS (does a hypercall write update the page, leave it stale, or invalidate it?).
struct ProbePageSample {
  std::string step;  // the intercept's step
  std::uint8_t isvalid = 0;
  std::uint64_t rip = 0;
  bool after_set = false;  // the two fields below were read (not for halt)
  std::uint8_t isvalid_after_set = 0;
  std::uint64_t rip_after_set = 0;
};

struct ProbeRegisterPage {
  std::string mapping;  // "ok", or the mmap error (ENODEV: the VP has no page)
  std::vector<ProbePageSample> samples;
};

struct ProbeReport {
  std::string system;  // MshvSystem::describe()
  std::vector<ProbeIntercept> intercepts;
  std::vector<ProbeTranslation> device_translations;
  ProbeDirtyLog dirty_log;
  ProbeRegisterPage register_page;
  std::string error;  // empty when the whole script ran; otherwise where it stopped
};

// Fails only when the device cannot be opened or no partition can be made; later failures are in
// the report's `error`, with everything seen before them.
Result<ProbeReport> run_probe(std::shared_ptr<MshvSystem> system);

}  // namespace hv::mshv
