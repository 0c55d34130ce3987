#include "sim_registers.hpp"

#include <array>
#include <cstring>
#include <gsl/gsl>

namespace hv::mshv::sim {

namespace {

namespace reg = abi::reg;

std::uint64_t* gpr(GeneralRegisters& r, std::uint32_t index) {
  const std::array<std::uint64_t*, 16> table = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                                                &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return index < table.size() ? gsl::at(table, index) : nullptr;
}

Segment* segment(SpecialRegisters& s, std::uint32_t name) {
  switch (name) {
    case reg::kEs: return &s.es;
    case reg::kCs: return &s.cs;
    case reg::kSs: return &s.ss;
    case reg::kDs: return &s.ds;
    case reg::kFs: return &s.fs;
    case reg::kGs: return &s.gs;
    case reg::kLdtr: return &s.ldt;
    case reg::kTr: return &s.tr;
    default: return nullptr;
  }
}

std::uint64_t* control(SpecialRegisters& s, std::uint32_t name) {
  switch (name) {
    case reg::kCr0: return &s.cr0;
    case reg::kCr2: return &s.cr2;
    case reg::kCr3: return &s.cr3;
    case reg::kCr4: return &s.cr4;
    case reg::kCr8: return &s.cr8;
    case reg::kEfer: return &s.efer;
    case reg::kApicBase: return &s.apic_base;
    default: return nullptr;
  }
}

bool is_special(std::uint32_t name) {
  SpecialRegisters probe;
  return segment(probe, name) != nullptr || control(probe, name) != nullptr || name == reg::kGdtr || name == reg::kIdtr;
}

// Names the hypervisor keeps as MSRs, with their architectural index.
std::optional<std::uint32_t> msr_index(std::uint32_t name) {
  switch (name) {
    case reg::kTsc: return 0x10;
    case reg::kKernelGsBase: return 0xc0000102;
    case reg::kPat: return 0x277;
    case reg::kSysenterCs: return 0x174;
    case reg::kSysenterEsp: return 0x175;
    case reg::kSysenterEip: return 0x176;
    case reg::kStar: return 0xc0000081;
    case reg::kLstar: return 0xc0000082;
    case reg::kCstar: return 0xc0000083;
    case reg::kSfmask: return 0xc0000084;
    case reg::kTscAux: return 0xc0000103;
    default: return std::nullopt;
  }
}

}  // namespace

std::uint16_t segment_attributes(const Segment& s) {
  return static_cast<std::uint16_t>((s.type & 0xf) | (s.s ? 1U << 4 : 0) | ((s.dpl & 3U) << 5) |
                                    (s.present ? 1U << 7 : 0) | (s.avl ? 1U << 12 : 0) | (s.l ? 1U << 13 : 0) |
                                    (s.db ? 1U << 14 : 0) | (s.g ? 1U << 15 : 0));
}

void apply_segment_attributes(std::uint16_t a, Segment& s) {
  s.type = a & 0xf;
  s.s = (a >> 4) & 1;
  s.dpl = (a >> 5) & 3;
  s.present = (a >> 7) & 1;
  s.avl = (a >> 12) & 1;
  s.l = (a >> 13) & 1;
  s.db = (a >> 14) & 1;
  s.g = (a >> 15) & 1;
  // Hyper-V has no "unusable" bit [docs/mshv-abi.md §7.1]; the inner KVM vCPU wants one, and a
  // not-present segment is what it means.
  s.unusable = !s.present;
}

bool RegisterBatch::load_general() {
  if (general_) return true;
  auto r = vcpu_.get_registers();
  if (!r) return false;
  general_ = *r;
  return true;
}
bool RegisterBatch::load_special() {
  if (special_) return true;
  auto r = vcpu_.get_special_registers();
  if (!r) return false;
  special_ = *r;
  return true;
}
bool RegisterBatch::load_fpu() {
  if (fpu_) return true;
  auto r = vcpu_.get_fpu();
  if (!r) return false;
  fpu_ = *r;
  return true;
}

std::uint16_t RegisterBatch::get(std::uint32_t name, abi::HvRegisterValue& value) {
  value = {};
  if ((name >= reg::kRax && name <= reg::kRax + 15) || name == reg::kRip || name == reg::kRflags) {
    if (!load_general()) return abi::kHvStatusInvalidVpState;
    value.low = name == reg::kRip      ? general_->rip
                : name == reg::kRflags ? general_->rflags
                                       : *gpr(*general_, name - reg::kRax);
    return abi::kHvStatusSuccess;
  }
  if (is_special(name)) {
    if (!load_special()) return abi::kHvStatusInvalidVpState;
    if (const Segment* s = segment(*special_, name)) {
      abi::HvSegmentRegister out{s->base, s->limit, s->selector, segment_attributes(*s)};
      std::memcpy(&value, &out, sizeof out);
    } else if (const std::uint64_t* c = control(*special_, name)) {
      value.low = *c;
    } else {
      const DescriptorTable& t = name == reg::kGdtr ? special_->gdt : special_->idt;
      abi::HvTableRegister out{{0, 0, 0}, t.limit, t.base};
      std::memcpy(&value, &out, sizeof out);
    }
    return abi::kHvStatusSuccess;
  }
  if ((name >= reg::kXmm0 && name < reg::kXmm0 + 16) || (name >= reg::kFpMmx0 && name < reg::kFpMmx0 + 8) ||
      name == reg::kFpControlStatus || name == reg::kXmmControlStatus) {
    if (!load_fpu()) return abi::kHvStatusInvalidVpState;
    if (name >= reg::kXmm0 && name < reg::kXmm0 + 16) {
      std::memcpy(&value, gsl::at(fpu_->xmm, name - reg::kXmm0).data(), 16);
    } else if (name >= reg::kFpMmx0 && name < reg::kFpMmx0 + 8) {
      std::memcpy(&value, gsl::at(fpu_->fpr, name - reg::kFpMmx0).data(), 16);
    } else if (name == reg::kFpControlStatus) {
      abi::HvFpControlStatusRegister fp{};
      fp.fp_control = fpu_->fcw;
      fp.fp_status = fpu_->fsw;
      fp.fp_tag = fpu_->ftwx;
      fp.last_fp_op = fpu_->last_opcode;
      fp.last_fp_rip = fpu_->last_ip;
      std::memcpy(&value, &fp, sizeof fp);
    } else {
      abi::HvXmmControlStatusRegister xmm{};
      xmm.last_fp_rdp = fpu_->last_dp;
      xmm.xmm_status_control = fpu_->mxcsr;
      xmm.xmm_status_control_mask = 0xffff;
      std::memcpy(&value, &xmm, sizeof xmm);
    }
    return abi::kHvStatusSuccess;
  }
  if (is_vcpu_state(name)) return get_vcpu_state(name, value);
  if (auto index = msr_index(name)) {
    MsrEntry entry{*index, 0};
    if (!vcpu_.get_msrs(std::span(&entry, 1))) return abi::kHvStatusInvalidParameter;
    value.low = entry.value;
    return abi::kHvStatusSuccess;
  }
  return abi::kHvStatusInvalidParameter;
}

std::uint16_t RegisterBatch::set(std::uint32_t name, const abi::HvRegisterValue& value) {
  if ((name >= reg::kRax && name <= reg::kRax + 15) || name == reg::kRip || name == reg::kRflags) {
    if (!load_general()) return abi::kHvStatusInvalidVpState;
    if (name == reg::kRip) {
      general_->rip = value.low;
    } else if (name == reg::kRflags) {
      general_->rflags = value.low;
    } else {
      *gpr(*general_, name - reg::kRax) = value.low;
    }
    general_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if (is_special(name)) {
    if (!load_special()) return abi::kHvStatusInvalidVpState;
    if (Segment* s = segment(*special_, name)) {
      abi::HvSegmentRegister in{};
      std::memcpy(&in, &value, sizeof in);
      s->base = in.base;
      s->limit = in.limit;
      s->selector = in.selector;
      apply_segment_attributes(in.attributes, *s);
    } else if (std::uint64_t* c = control(*special_, name)) {
      *c = value.low;
    } else {
      abi::HvTableRegister in{};
      std::memcpy(&in, &value, sizeof in);
      DescriptorTable& t = name == reg::kGdtr ? special_->gdt : special_->idt;
      t.base = in.base;
      t.limit = in.limit;
    }
    special_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if ((name >= reg::kXmm0 && name < reg::kXmm0 + 16) || (name >= reg::kFpMmx0 && name < reg::kFpMmx0 + 8) ||
      name == reg::kFpControlStatus || name == reg::kXmmControlStatus) {
    if (!load_fpu()) return abi::kHvStatusInvalidVpState;
    std::uint8_t b[16];
    std::memcpy(b, &value, 16);
    if (name >= reg::kXmm0 && name < reg::kXmm0 + 16) {
      std::memcpy(gsl::at(fpu_->xmm, name - reg::kXmm0).data(), b, 16);
    } else if (name >= reg::kFpMmx0 && name < reg::kFpMmx0 + 8) {
      std::memcpy(gsl::at(fpu_->fpr, name - reg::kFpMmx0).data(), b, 16);
    } else if (name == reg::kFpControlStatus) {
      abi::HvFpControlStatusRegister fp{};
      std::memcpy(&fp, b, sizeof fp);
      fpu_->fcw = fp.fp_control;
      fpu_->fsw = fp.fp_status;
      fpu_->ftwx = fp.fp_tag;
      fpu_->last_opcode = fp.last_fp_op;
      fpu_->last_ip = fp.last_fp_rip;
    } else {
      abi::HvXmmControlStatusRegister xmm{};
      std::memcpy(&xmm, b, sizeof xmm);
      fpu_->last_dp = xmm.last_fp_rdp;
      fpu_->mxcsr = xmm.xmm_status_control;
    }
    fpu_dirty_ = true;
    return abi::kHvStatusSuccess;
  }
  if (is_vcpu_state(name)) return set_vcpu_state(name, value);
  if (auto index = msr_index(name)) {
    const MsrEntry entry{*index, value.low};
    auto done = vcpu_.set_msrs(std::span(&entry, 1));
    // A host that takes a TSC write and ignores it (KVM on PVM here) is what the simulated hypervisor
    // then does too: the write "succeeds" and the TSC runs on, which the backend can detect.
    if (!done && !(name == reg::kTsc && done.error().kind() == ErrorKind::Unsupported))
      return abi::kHvStatusInvalidRegisterValue;
    return abi::kHvStatusSuccess;
  }
  return abi::kHvStatusInvalidParameter;
}

bool RegisterBatch::commit() {
  bool ok = true;
  if (special_dirty_ && special_) ok = static_cast<bool>(vcpu_.set_special_registers(*special_)) && ok;
  if (general_dirty_ && general_) ok = static_cast<bool>(vcpu_.set_registers(*general_)) && ok;
  if (fpu_dirty_ && fpu_) ok = static_cast<bool>(vcpu_.set_fpu(*fpu_)) && ok;
  special_dirty_ = general_dirty_ = fpu_dirty_ = false;
  // After the general registers: KVM_SET_REGS drops a pending exception.
  ok = commit_vcpu_state() && ok;
  return ok;
}

}  // namespace hv::mshv::sim
