#include "kvm_register_conversion.hpp"

#include <cstring>

namespace hv::kvm::detail {

GeneralRegisters from_kvm(const kvm_regs& r) noexcept {
  return {.rax = r.rax,
          .rbx = r.rbx,
          .rcx = r.rcx,
          .rdx = r.rdx,
          .rsi = r.rsi,
          .rdi = r.rdi,
          .rsp = r.rsp,
          .rbp = r.rbp,
          .r8 = r.r8,
          .r9 = r.r9,
          .r10 = r.r10,
          .r11 = r.r11,
          .r12 = r.r12,
          .r13 = r.r13,
          .r14 = r.r14,
          .r15 = r.r15,
          .rip = r.rip,
          .rflags = r.rflags};
}

kvm_regs to_kvm(const GeneralRegisters& r) noexcept {
  return {.rax = r.rax,
          .rbx = r.rbx,
          .rcx = r.rcx,
          .rdx = r.rdx,
          .rsi = r.rsi,
          .rdi = r.rdi,
          .rsp = r.rsp,
          .rbp = r.rbp,
          .r8 = r.r8,
          .r9 = r.r9,
          .r10 = r.r10,
          .r11 = r.r11,
          .r12 = r.r12,
          .r13 = r.r13,
          .r14 = r.r14,
          .r15 = r.r15,
          .rip = r.rip,
          .rflags = r.rflags};
}

namespace {

Segment from_kvm(const kvm_segment& s) noexcept {
  return {.base = s.base,
          .limit = s.limit,
          .selector = s.selector,
          .type = s.type,
          .dpl = s.dpl,
          .present = s.present != 0,
          .db = s.db != 0,
          .s = s.s != 0,
          .l = s.l != 0,
          .g = s.g != 0,
          .avl = s.avl != 0,
          .unusable = s.unusable != 0};
}

kvm_segment to_kvm(const Segment& s) noexcept {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.dpl = s.dpl;
  k.present = s.present;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.unusable;
  return k;
}

DescriptorTable from_kvm(const kvm_dtable& t) noexcept { return {.base = t.base, .limit = t.limit}; }
kvm_dtable to_kvm(const DescriptorTable& t) noexcept { return {.base = t.base, .limit = t.limit, .padding = {}}; }

}  // namespace

SpecialRegisters from_kvm(const kvm_sregs& s) noexcept {
  return {.cs = from_kvm(s.cs),
          .ds = from_kvm(s.ds),
          .es = from_kvm(s.es),
          .fs = from_kvm(s.fs),
          .gs = from_kvm(s.gs),
          .ss = from_kvm(s.ss),
          .tr = from_kvm(s.tr),
          .ldt = from_kvm(s.ldt),
          .gdt = from_kvm(s.gdt),
          .idt = from_kvm(s.idt),
          .cr0 = s.cr0,
          .cr2 = s.cr2,
          .cr3 = s.cr3,
          .cr4 = s.cr4,
          .cr8 = s.cr8,
          .efer = s.efer,
          .apic_base = s.apic_base};
}

kvm_sregs to_kvm(const SpecialRegisters& s, const kvm_sregs& base) noexcept {
  kvm_sregs k = base;
  k.cs = to_kvm(s.cs);
  k.ds = to_kvm(s.ds);
  k.es = to_kvm(s.es);
  k.fs = to_kvm(s.fs);
  k.gs = to_kvm(s.gs);
  k.ss = to_kvm(s.ss);
  k.tr = to_kvm(s.tr);
  k.ldt = to_kvm(s.ldt);
  k.gdt = to_kvm(s.gdt);
  k.idt = to_kvm(s.idt);
  k.cr0 = s.cr0;
  k.cr2 = s.cr2;
  k.cr3 = s.cr3;
  k.cr4 = s.cr4;
  k.cr8 = s.cr8;
  k.efer = s.efer;
  k.apic_base = s.apic_base;
  return k;
}

FpuState from_kvm(const kvm_fpu& f) noexcept {
  FpuState out;
  std::memcpy(out.fpr.data(), f.fpr, sizeof f.fpr);
  out.fcw = f.fcw;
  out.fsw = f.fsw;
  out.ftwx = f.ftwx;
  out.last_opcode = f.last_opcode;
  out.last_ip = f.last_ip;
  out.last_dp = f.last_dp;
  std::memcpy(out.xmm.data(), f.xmm, sizeof f.xmm);
  out.mxcsr = f.mxcsr;
  return out;
}

kvm_fpu to_kvm(const FpuState& f) noexcept {
  kvm_fpu k{};
  static_assert(sizeof k.fpr == sizeof f.fpr && sizeof k.xmm == sizeof f.xmm);
  std::memcpy(k.fpr, f.fpr.data(), sizeof k.fpr);
  k.fcw = f.fcw;
  k.fsw = f.fsw;
  k.ftwx = f.ftwx;
  k.last_opcode = f.last_opcode;
  k.last_ip = f.last_ip;
  k.last_dp = f.last_dp;
  std::memcpy(k.xmm, f.xmm.data(), sizeof k.xmm);
  k.mxcsr = f.mxcsr;
  return k;
}

CpuidEntry from_kvm(const kvm_cpuid_entry2& e) noexcept {
  return {.function = e.function,
          .index = e.index,
          .index_significant = (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0,
          .eax = e.eax,
          .ebx = e.ebx,
          .ecx = e.ecx,
          .edx = e.edx};
}

kvm_cpuid_entry2 to_kvm(const CpuidEntry& e) noexcept {
  kvm_cpuid_entry2 k{};
  k.function = e.function;
  k.index = e.index;
  k.flags = e.index_significant ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0U;
  k.eax = e.eax;
  k.ebx = e.ebx;
  k.ecx = e.ecx;
  k.edx = e.edx;
  return k;
}

}  // namespace hv::kvm::detail
