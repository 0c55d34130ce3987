// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// Memory intercepts (UNMAPPED_GPA, GPA_INTERCEPT) [§9.5]: the instruction is decoded once and
// executed once with hvkit's x86 emulator, RAM accesses through the partition's mappings and every
// other access straight to the IoHandler.
#include <algorithm>
#include <array>
#include <cstring>
#include <gsl/gsl>
#include <string>
#include <string_view>
#include <type_traits>

#include "hv/x86_rules.hpp"
#include "mshv_intercept.hpp"
#include "mshv_registers.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;

namespace {

// LinearMemory for emulating one intercepted instruction: RAM through the partition's mappings,
// every other guest-physical address through the VMM's IoHandler, at once and in order.
class InterceptMemory final : public x86::LinearMemory {
 public:
  InterceptMemory(const MshvVcpu& vcpu, const PartitionMemory& memory, IoHandler& io, x86::CpuMode mode)
      : vcpu_(vcpu), memory_(memory), io_(io), mode_(mode) {}

  // A translation the hypervisor already made (the message's GVA -> GPA): the intercepted access
  // needs no hypercall to find its GPA.
  void know(std::uint64_t gva, std::uint64_t gpa, bool write) {
    gsl::at(translations_, next_slot_) = {gva >> 12, gpa >> 12, write};
    next_slot_ = (next_slot_ + 1) % kCachedTranslations;
    cached_ = std::min(cached_ + 1, kCachedTranslations);
  }

  Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override { return access(linear, data); }
  Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override { return access(linear, data); }

 private:
  // The instruction's guest-virtual -> guest-physical translations, kept for its whole execution as
  // a TLB keeps them (a REP MOVS touches a handful of pages; beyond the cache, translate again).
  struct Translation {
    std::uint64_t gva_page = 0;
    std::uint64_t gpa_page = 0;
    bool write = false;
  };
  static constexpr gsl::index kCachedTranslations = 4;

  Result<std::uint64_t> translate(std::uint64_t linear, bool write) {
    for (gsl::index i = 0; i < cached_; ++i) {
      const auto& t = gsl::at(translations_, i);
      if (t.gva_page == linear >> 12 && t.write == write) return (t.gpa_page << 12) | (linear & 0xfff);
    }
    auto gpa = vcpu_.translate(linear, write);
    if (gpa) know(linear, *gpa, write);
    return gpa;
  }

  // Byte is const for a write (the bytes are only read from) and mutable for a read (they are filled in).
  template <class Byte>
  Result<void> access(std::uint64_t linear, std::span<Byte> data) {
    constexpr bool write = std::is_const_v<Byte>;
    const std::size_t size = data.size();
    auto gpa = translate(linear, write);
    if (!gpa) return tl::unexpected(gpa.error());
    // An access that crosses into the next page: each page translated on its own.
    const std::size_t first = std::min<std::size_t>(size, 4096 - (linear & 0xfff));
    if (first < size) {
      // Outside 64-bit mode the next page of 0xfffff000 is 0 (the linear address wraps at 4 GiB).
      auto second = translate(x86::wrap_linear(mode_, linear + first), write);
      if (!second) return tl::unexpected(second.error());
      const bool ram = memory_.contains(*gpa, first, write) && memory_.contains(*second, size - first, write);
      if (ram) {
        return copy(*gpa, data.first(first)) && copy(*second, data.subspan(first))
                   ? Result<void>{}
                   : fail(ErrorKind::Internal, kRun, "RAM changed during emulation");
      }
      // A device access split over two pages: emulated as one access at the first address.
    } else if (memory_.contains(*gpa, size, write)) {
      return copy(*gpa, data) ? Result<void>{} : fail(ErrorKind::Internal, kRun, "RAM changed during emulation");
    }
    if (size > 8) return fail(ErrorKind::Internal, kRun, "an emulated access wider than 8 bytes");
    if constexpr (write) {
      io_.mmio_write(*gpa, data);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});  // what an unclaimed bus answers
      io_.mmio_read(*gpa, data);
    }
    return {};
  }
  template <class Byte>
  bool copy(std::uint64_t gpa, std::span<Byte> data) const {
    if constexpr (std::is_const_v<Byte>) {
      return memory_.write(gpa, data);
    } else {
      return memory_.read(gpa, data);
    }
  }

  const MshvVcpu& vcpu_;
  const PartitionMemory& memory_;
  IoHandler& io_;
  x86::CpuMode mode_;
  std::array<Translation, kCachedTranslations> translations_{};
  gsl::index cached_ = 0;
  gsl::index next_slot_ = 0;
};

}  // namespace

Result<void> MshvVcpu::on_memory_intercept(const std::uint8_t* payload, IoHandler& io) {
  abi::HvMemoryIntercept m{};
  std::memcpy(&m, payload, sizeof m);
  if (m.header.intercept_access_type == abi::kAccessExecute) {
    return fail(ErrorKind::Unsupported, kRun,
                "the guest executes from GPA " + hex(m.guest_physical_address) + ", which is not RAM (RIP " +
                    hex(m.header.rip) + ")");
  }
  // An access made while the hypervisor was delivering an event (the IDT, the stack or the TSS in
  // device memory), not by the instruction at RIP: emulating that instruction would make the wrong
  // access. OpenVMM (virt_support_x86emu) does not emulate these either; resuming would only repeat
  // the intercept. An error from run() naming the GPA; no device sees an access.
  if ((m.header.execution_state & abi::kExecStateInterruptionPending) != 0) {
    return fail(ErrorKind::Unsupported, kRun,
                "an event delivery (not the instruction at RIP " + hex(m.header.rip) + ") touched GPA " +
                    hex(m.guest_physical_address) + ", which is not RAM");
  }
  const auto mode = cpu_mode(m.header);
  // The message carries RIP, RFLAGS and CS but not the other registers the instruction may use.
  const auto names = general_register_names();
  GeneralRegisterValues values{};
  if (auto r = get(names, values); !r) return tl::unexpected(r.error());
  GeneralRegisters before = to_general(values);
  before.rip = m.header.rip;
  before.rflags = m.header.rflags;
  // Decode from one copy: the bytes the hypervisor read at RIP and, only if they do not decode and it
  // gave fewer than 16, the missing tail read from guest memory after them, a page at a time. The
  // given bytes are never read again: the guest (another vCPU) may have changed them since.
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t given = std::min<std::size_t>(m.instruction_byte_count, bytes.size());
  std::memcpy(bytes.data(), m.instruction_bytes, given);
  std::size_t count = given;
  auto insn = x86::decode(std::span(bytes).first(count), mode);
  if (!insn && count < bytes.size()) {
    const std::uint64_t rip_linear = m.header.cs.base + m.header.rip;
    while (count < bytes.size()) {
      const std::uint64_t at = x86::wrap_linear(mode, rip_linear + count);
      const std::size_t n = std::min<std::size_t>(bytes.size() - count, 4096 - (at & 0xfff));
      auto gpa = translate(at, false);
      if (!gpa || !memory_->read(*gpa, std::span(bytes).subspan(count, n))) break;
      count += n;
    }
    insn = x86::decode(std::span(bytes).first(count), mode);
  }
  if (!insn) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string shown;
    for (const std::uint8_t b : std::span(bytes).first(count)) {
      if (!shown.empty()) shown += ' ';
      shown += kDigits[b >> 4];
      shown += kDigits[b & 0xf];
    }
    return fail(insn.error().kind(), kRun,
                "cannot emulate the instruction at RIP " + hex(m.header.rip) +
                    " (bytes: " + (shown.empty() ? std::string("none readable") : shown) +
                    "): " + std::string(insn.error().message()));
  }
  // Segment bases: in 64-bit mode only FS and GS have one, and only an override selects them.
  x86::SegmentBases segments{};
  segments[static_cast<std::size_t>(x86::SegmentRegister::Cs)] = m.header.cs.base;
  const bool long_mode = mode == x86::CpuMode::Long64;
  const auto seg = [](const x86::Operand& o) {
    return o.kind == x86::Operand::Kind::Memory ? o.memory.segment : x86::SegmentRegister::Ds;
  };
  const bool needs_fs_gs =
      seg(insn->source) == x86::SegmentRegister::Fs || seg(insn->source) == x86::SegmentRegister::Gs ||
      seg(insn->destination) == x86::SegmentRegister::Fs || seg(insn->destination) == x86::SegmentRegister::Gs;
  if (!long_mode || needs_fs_gs) {
    const std::array<std::uint32_t, 5> seg_names = {reg::kEs, reg::kSs, reg::kDs, reg::kFs, reg::kGs};
    const std::array<x86::SegmentRegister, 5> which = {x86::SegmentRegister::Es, x86::SegmentRegister::Ss,
                                                       x86::SegmentRegister::Ds, x86::SegmentRegister::Fs,
                                                       x86::SegmentRegister::Gs};
    std::array<abi::HvRegisterValue, 5> seg_values{};
    if (auto r = get(seg_names, seg_values); !r) return tl::unexpected(r.error());
    for (gsl::index i = 0; i < std::ssize(which); ++i) {
      abi::HvSegmentRegister s{};
      std::memcpy(&s, &gsl::at(seg_values, i), sizeof s);
      segments[static_cast<std::size_t>(gsl::at(which, i))] = s.base;
    }
  }
  // One execution: each device access reaches the IoHandler as the emulator makes it. A REP string
  // instruction that stops at the iteration limit leaves RIP on itself and the guest continues it.
  GeneralRegisters after = before;
  InterceptMemory memory(*this, *memory_, io, mode);
  // The hypervisor's own translation of the intercepted access, when it says it made one (Cloud
  // Hypervisor hypervisor/src/mshv/mod.rs, QEMU target/i386/mshv and OpenVMM use it the same way):
  // one TRANSLATE_VIRTUAL_ADDRESS hypercall less per MMIO exit.
  if ((m.memory_access_info & abi::kMemoryAccessGvaGpaValid) != 0) {
    memory.know(m.guest_virtual_address, m.guest_physical_address, m.header.intercept_access_type == abi::kAccessWrite);
  }
  auto done = x86::execute(*insn, mode, segments, after, memory);
  if (!done) {
    return fail(done.error().kind(), kRun,
                "emulating " + std::string(x86::to_string(insn->mnemonic)) + " at RIP " + hex(before.rip) + ": " +
                    std::string(done.error().message()));
  }
  // Write back what changed (RIP always: unless a REP stopped early, it moved past the instruction).
  const auto old_values = from_general(before);
  const auto new_values = from_general(after);
  GeneralRegisterAssocs changed{};
  gsl::index n = 0;
  for (gsl::index i = 0; i < std::ssize(new_values); ++i) {
    if (gsl::at(new_values, i).value.low != gsl::at(old_values, i).value.low)
      gsl::at(changed, n++) = gsl::at(new_values, i);
  }
  if (n == 0) return {};
  return set(std::span(changed).first(static_cast<std::size_t>(n)));
}

}  // namespace hv::mshv::detail
