// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "mshv_registers.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <gsl/gsl>

namespace hv::mshv::detail {

namespace reg = abi::reg;

namespace {

constexpr const char* kGet = "HVCALL_GET_VP_REGISTERS";
constexpr const char* kSet = "HVCALL_SET_VP_REGISTERS";

abi::HvRegisterValue raw(const void* bytes) {
  abi::HvRegisterValue v{};
  std::memcpy(&v, bytes, sizeof v);
  return v;
}

// hv_x64_segment_register.attributes: the low 16 bits of VMX access rights [§7.1].
Segment to_segment(const abi::HvRegisterValue& v) {
  abi::HvSegmentRegister s{};
  std::memcpy(&s, &v, sizeof s);
  Segment out;
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  out.type = s.attributes & 0xf;
  out.s = (s.attributes & (1U << 4)) != 0;
  out.dpl = (s.attributes >> 5) & 3;
  out.present = (s.attributes & (1U << 7)) != 0;
  out.avl = (s.attributes & (1U << 12)) != 0;
  out.l = (s.attributes & (1U << 13)) != 0;
  out.db = (s.attributes & (1U << 14)) != 0;
  out.g = (s.attributes & (1U << 15)) != 0;
  // Hyper-V has no "unusable" bit: reported as 0, as rust-vmm mshv-ioctls (x86_64/regs.rs) and QEMU
  // (target/i386/mshv) do. A not-present segment is unusable to the CPU either way.
  out.unusable = false;
  return out;
}

abi::HvRegisterValue from_segment(const Segment& s) {
  abi::HvSegmentRegister out{};
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  // `unusable` is dropped, as rust-vmm mshv-ioctls and QEMU drop it: P goes over as given (a VMM that
  // means "unusable" clears P, as KVM's own state does for such segments).
  const bool present = s.present;
  out.attributes = static_cast<std::uint16_t>((s.type & 0xfU) | (s.s ? 1U << 4 : 0U) | ((s.dpl & 3U) << 5) |
                                              (present ? 1U << 7 : 0U) | (s.avl ? 1U << 12 : 0U) |
                                              (s.l ? 1U << 13 : 0U) | (s.db ? 1U << 14 : 0U) | (s.g ? 1U << 15 : 0U));
  return raw(&out);
}

DescriptorTable to_table(const abi::HvRegisterValue& v) {
  abi::HvTableRegister t{};
  std::memcpy(&t, &v, sizeof t);
  return {t.base, t.limit};
}

abi::HvRegisterValue from_table(const DescriptorTable& t) {
  abi::HvTableRegister out{};
  out.limit = t.limit;
  out.base = t.base;
  return raw(&out);
}

}  // namespace

abi::HvRegisterAssoc assoc_raw(std::uint32_t name, const abi::HvRegisterValue& value) {
  abi::HvRegisterAssoc a{};
  a.name = name;
  a.value = value;
  return a;
}

abi::HvRegisterAssoc assoc(std::uint32_t name, std::uint64_t value) { return assoc_raw(name, {value, 0}); }

Result<void> get_vp_registers(const MshvFd& fd, std::uint32_t vp_index, std::span<const std::uint32_t> names,
                              std::span<abi::HvRegisterValue> values) {
  for (std::size_t at = 0; at < names.size(); at += abi::kMaxGetRegistersPerCall) {
    const std::size_t n = std::min(names.size() - at, abi::kMaxGetRegistersPerCall);
    // Page-sized stack buffers: a register access (every emulated MMIO access) allocates nothing.
    std::array<std::uint8_t, abi::kHvcallMaxInput> input_page{};
    std::array<std::uint8_t, abi::kHvcallMaxInput> output_page{};
    const auto input = std::span(input_page).first(sizeof(abi::HvInputVpRegistersHeader) + n * 4);
    const auto output = std::span(output_page).first(n * sizeof(abi::HvRegisterValue));
    abi::HvInputVpRegistersHeader header{};
    header.vp_index = vp_index;  // the kernel fills the partition id, not the VP [§5]
    std::memcpy(input.data(), &header, sizeof header);
    std::memcpy(input.data() + sizeof header, names.data() + at, n * 4);
    auto done = hypercall(fd, abi::kHvcallGetVpRegisters, static_cast<std::uint16_t>(n), input, output, kGet);
    if (!done) return tl::unexpected(done.error());
    if (*done != n)
      return fail(ErrorKind::Internal, kGet,
                  "the hypervisor returned " + std::to_string(*done) + " of " + std::to_string(n));
    std::memcpy(values.data() + at, output.data(), output.size());
  }
  return {};
}

Result<void> set_vp_registers(const MshvFd& fd, std::uint32_t vp_index, std::span<const abi::HvRegisterAssoc> assocs) {
  for (std::size_t at = 0; at < assocs.size(); at += abi::kMaxSetRegistersPerCall) {
    const std::size_t n = std::min(assocs.size() - at, abi::kMaxSetRegistersPerCall);
    std::array<std::uint8_t, abi::kHvcallMaxInput> input_page{};
    const auto input =
        std::span(input_page).first(sizeof(abi::HvInputVpRegistersHeader) + n * sizeof(abi::HvRegisterAssoc));
    abi::HvInputVpRegistersHeader header{};
    header.vp_index = vp_index;
    std::memcpy(input.data(), &header, sizeof header);
    std::memcpy(input.data() + sizeof header, assocs.data() + at, n * sizeof(abi::HvRegisterAssoc));
    auto done = hypercall(fd, abi::kHvcallSetVpRegisters, static_cast<std::uint16_t>(n), input, {}, kSet);
    if (!done) return tl::unexpected(done.error());
    if (*done != n)
      return fail(ErrorKind::Internal, kSet,
                  "the hypervisor set " + std::to_string(*done) + " of " + std::to_string(n));
  }
  return {};
}

GeneralRegisterNames general_register_names() {
  GeneralRegisterNames names{};
  for (std::uint32_t i = 0; i < 16; ++i) gsl::at(names, i) = reg::kRax + i;
  names[16] = reg::kRip;
  names[17] = reg::kRflags;
  return names;
}

GeneralRegisters to_general(std::span<const abi::HvRegisterValue> v) {
  GeneralRegisters r;
  const std::array<std::uint64_t*, 16> order = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                                                &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  for (gsl::index i = 0; i < std::ssize(order); ++i) *gsl::at(order, i) = v[i].low;
  r.rip = v[16].low;
  r.rflags = v[17].low;
  return r;
}

GeneralRegisterAssocs from_general(const GeneralRegisters& r) {
  const std::array<std::uint64_t, 16> order = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                                               r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  GeneralRegisterAssocs out{};
  // RAX..R15 are consecutive names in this order
  for (std::uint32_t i = 0; i < 16; ++i) gsl::at(out, i) = assoc(reg::kRax + i, gsl::at(order, i));
  out[16] = assoc(reg::kRip, r.rip);
  out[17] = assoc(reg::kRflags, r.rflags);
  return out;
}

std::vector<std::uint32_t> special_register_names() {
  return {reg::kEs,   reg::kCs,  reg::kSs,  reg::kDs,  reg::kFs,  reg::kGs,  reg::kLdtr, reg::kTr,      reg::kGdtr,
          reg::kIdtr, reg::kCr0, reg::kCr2, reg::kCr3, reg::kCr4, reg::kCr8, reg::kEfer, reg::kApicBase};
}

SpecialRegisters to_special(std::span<const abi::HvRegisterValue> v) {
  SpecialRegisters s;
  const std::array<Segment*, 8> segments = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs, &s.ldt, &s.tr};
  for (gsl::index i = 0; i < std::ssize(segments); ++i) *gsl::at(segments, i) = to_segment(v[i]);
  s.gdt = to_table(v[8]);
  s.idt = to_table(v[9]);
  s.cr0 = v[10].low;
  s.cr2 = v[11].low;
  s.cr3 = v[12].low;
  s.cr4 = v[13].low;
  s.cr8 = v[14].low;
  s.efer = v[15].low;
  s.apic_base = v[16].low;
  return s;
}

std::vector<abi::HvRegisterAssoc> from_special(const SpecialRegisters& s) {
  const auto names = special_register_names();
  const std::array<const Segment*, 8> segments = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs, &s.ldt, &s.tr};
  std::vector<abi::HvRegisterAssoc> out;
  for (gsl::index i = 0; i < std::ssize(segments); ++i) {
    out.push_back(assoc_raw(names[i], from_segment(*gsl::at(segments, i))));
  }
  out.push_back(assoc_raw(reg::kGdtr, from_table(s.gdt)));
  out.push_back(assoc_raw(reg::kIdtr, from_table(s.idt)));
  out.push_back(assoc(reg::kCr0, s.cr0));
  out.push_back(assoc(reg::kCr2, s.cr2));
  out.push_back(assoc(reg::kCr3, s.cr3));
  out.push_back(assoc(reg::kCr4, s.cr4));
  out.push_back(assoc(reg::kCr8, s.cr8));
  out.push_back(assoc(reg::kEfer, s.efer));
  out.push_back(assoc(reg::kApicBase, s.apic_base));
  return out;
}

std::vector<std::uint32_t> fpu_register_names() {
  std::vector<std::uint32_t> names;
  for (std::uint32_t i = 0; i < 8; ++i) names.push_back(reg::kFpMmx0 + i);
  names.push_back(reg::kFpControlStatus);
  names.push_back(reg::kXmmControlStatus);
  for (std::uint32_t i = 0; i < 16; ++i) names.push_back(reg::kXmm0 + i);
  return names;
}

FpuState to_fpu(std::span<const abi::HvRegisterValue> v) {
  FpuState f;
  for (gsl::index i = 0; i < std::ssize(f.fpr); ++i) std::memcpy(gsl::at(f.fpr, i).data(), &v[i], 16);
  abi::HvFpControlStatusRegister fp{};
  std::memcpy(&fp, &v[8], sizeof fp);
  f.fcw = fp.fp_control;
  f.fsw = fp.fp_status;
  f.ftwx = fp.fp_tag;
  f.last_opcode = fp.last_fp_op;
  f.last_ip = fp.last_fp_rip;
  abi::HvXmmControlStatusRegister sse{};
  std::memcpy(&sse, &v[9], sizeof sse);
  f.last_dp = sse.last_fp_rdp;
  f.mxcsr = sse.xmm_status_control;
  for (gsl::index i = 0; i < std::ssize(f.xmm); ++i) std::memcpy(gsl::at(f.xmm, i).data(), &v[10 + i], 16);
  return f;
}

std::vector<abi::HvRegisterAssoc> from_fpu(const FpuState& f) {
  std::vector<abi::HvRegisterAssoc> out;
  std::uint32_t name = reg::kFpMmx0;  // FP_MMX0..7 are consecutive names
  for (const auto& fpr : f.fpr) out.push_back(assoc_raw(name++, raw(fpr.data())));
  abi::HvFpControlStatusRegister fp{};
  fp.fp_control = f.fcw;
  fp.fp_status = f.fsw;
  fp.fp_tag = f.ftwx;
  fp.last_fp_op = f.last_opcode;
  fp.last_fp_rip = f.last_ip;
  out.push_back(assoc_raw(reg::kFpControlStatus, raw(&fp)));
  abi::HvXmmControlStatusRegister sse{};
  sse.last_fp_rdp = f.last_dp;
  sse.xmm_status_control = f.mxcsr;  // mask 0, as rust-vmm mshv-ioctls writes it
  out.push_back(assoc_raw(reg::kXmmControlStatus, raw(&sse)));
  name = reg::kXmm0;  // XMM0..15 are consecutive names
  for (const auto& xmm : f.xmm) out.push_back(assoc_raw(name++, raw(xmm.data())));
  return out;
}

std::optional<std::uint32_t> msr_register_name(std::uint32_t index) {
  switch (index) {
    case 0x10: return reg::kTsc;
    case 0x1b: return reg::kApicBase;
    case 0x174: return reg::kSysenterCs;
    case 0x175: return reg::kSysenterEsp;
    case 0x176: return reg::kSysenterEip;
    case 0x277: return reg::kPat;
    case 0xc0000080: return reg::kEfer;
    case 0xc0000081: return reg::kStar;
    case 0xc0000082: return reg::kLstar;
    case 0xc0000083: return reg::kCstar;
    case 0xc0000084: return reg::kSfmask;
    case 0xc0000102: return reg::kKernelGsBase;
    case 0xc0000103: return reg::kTscAux;
    default: return std::nullopt;
  }
}

}  // namespace hv::mshv::detail
