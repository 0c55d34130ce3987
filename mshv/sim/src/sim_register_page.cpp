// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The register page [§10.1] as the simulated hypervisor keeps it. The simulator owns the page, so it
// copies the whole struct in and out; the VMM's side writes single fields (mshv/src).
#include "sim_register_page.hpp"

#include <cstring>
#include <gsl/gsl>

#include "mshv_register_page.hpp"
#include "sim_registers.hpp"

namespace hv::mshv::sim {

namespace {

using Page = abi::HvVpRegisterPage;

// GeneralRegisters' fields in the page's (x86) order: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15.
std::array<std::uint64_t*, 16> gprs(GeneralRegisters& r) {
  return {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
          &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
}
// SpecialRegisters' segments in the page's order: ES CS SS DS FS GS.
std::array<Segment*, 6> segments(SpecialRegisters& s) { return {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs}; }

Page load(std::span<const std::uint8_t> bytes) {
  Page page{};
  std::memcpy(&page, bytes.data(), sizeof page);
  return page;
}
void store(std::span<std::uint8_t> bytes, const Page& page) { std::memcpy(bytes.data(), &page, sizeof page); }

bool dirty(const Page& page, std::uint32_t register_class) { return (page.dirty & (1U << register_class)) != 0; }

}  // namespace

void fill_register_page(std::span<std::uint8_t> bytes, const GeneralRegisters& regs, const SpecialRegisters& sregs,
                        bool valid) {
  Page page = load(bytes);
  page.version = abi::kRegisterPageVersion1;
  page.dirty = 0;
  GeneralRegisters r = regs;
  const auto g = gprs(r);
  const auto page_gprs = std::span(page.gp_registers);
  for (gsl::index i = 0; i < std::ssize(g); ++i) page_gprs[static_cast<std::size_t>(i)] = *gsl::at(g, i);
  page.rip = regs.rip;
  page.rflags = regs.rflags;
  SpecialRegisters s = sregs;
  const auto segs = segments(s);
  const auto page_segments = std::span(page.segments);
  for (gsl::index i = 0; i < std::ssize(segs); ++i) {
    const Segment& seg = *gsl::at(segs, i);
    page_segments[static_cast<std::size_t>(i)] = {seg.base, seg.limit, seg.selector, segment_attributes(seg)};
  }
  page.cr0 = sregs.cr0;
  page.cr3 = sregs.cr3;
  page.cr4 = sregs.cr4;
  page.cr8 = sregs.cr8;
  page.efer = sregs.efer;
  // XMM0-5, DR7 and the interruption fields are not filled (docs/mshv.md, mshv-sim "Not simulated").
  page.isvalid = valid ? 1 : 0;
  store(bytes, page);
}

bool apply_register_page(std::span<std::uint8_t> bytes, Vcpu& vcpu) {
  Page page = load(bytes);
  bool ok = true;
  const bool general = dirty(page, abi::kRegisterClassGeneral);
  const bool ip = dirty(page, abi::kRegisterClassIp);
  const bool flags = dirty(page, abi::kRegisterClassFlags);
  if (general || ip || flags) {
    auto regs = vcpu.get_registers();
    ok = regs.has_value();
    if (ok) {
      if (general) {
        const auto g = gprs(*regs);
        const auto page_gprs = std::span(page.gp_registers);
        for (gsl::index i = 0; i < std::ssize(g); ++i) *gsl::at(g, i) = page_gprs[static_cast<std::size_t>(i)];
      }
      if (ip) regs->rip = page.rip;
      if (flags) regs->rflags = page.rflags;
      ok = vcpu.set_registers(*regs).has_value();
    }
  }
  if (ok && dirty(page, abi::kRegisterClassSegment)) {
    auto sregs = vcpu.get_special_registers();
    ok = sregs.has_value();
    if (ok) {
      const auto segs = segments(*sregs);
      const auto page_segments = std::span(page.segments);
      for (gsl::index i = 0; i < std::ssize(segs); ++i) {
        const auto& in = page_segments[static_cast<std::size_t>(i)];
        Segment& seg = *gsl::at(segs, i);
        seg.base = in.base;
        seg.limit = in.limit;
        seg.selector = in.selector;
        apply_segment_attributes(in.attributes, seg);
      }
      ok = vcpu.set_special_registers(*sregs).has_value();
    }
  }
  // XMM0-5 are neither filled nor loaded (docs/mshv.md, mshv-sim "Not simulated"): the bit is ignored.
  page.dirty = 0;
  page.isvalid = 0;
  store(bytes, page);
  return ok;
}

}  // namespace hv::mshv::sim
