// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// IN/OUT and INS/OUTS intercepts: the VMM completes the instruction itself [§9.4, §12.1].
#include <algorithm>
#include <array>
#include <cstring>
#include <gsl/gsl>
#include <string>

#include "hv/x86_rules.hpp"
#include "mshv_intercept.hpp"
#include "mshv_registers.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;

namespace {

// Bytes of string IO one intercept may move before the guest re-executes the same instruction for the
// rest (as the CPU stops a REP between iterations for an interrupt): bounds the work between two
// looks at a pending kick.
constexpr std::uint64_t kStringBytesPerIntercept = std::uint64_t{64} * 1024;

// Translations of one string IO instruction: one hypercall per page rather than per element.
class PageTranslations {
 public:
  PageTranslations(const MshvVcpu& vcpu, bool write) : vcpu_(vcpu), write_(write) {}
  [[nodiscard]] bool writes() const noexcept { return write_; }
  Result<std::uint64_t> translate(std::uint64_t gva) {
    if (!valid_ || (gva >> 12) != gva_page_) {
      auto gpa = vcpu_.translate(gva & ~0xfffULL, write_);
      if (!gpa) return gpa;
      gva_page_ = gva >> 12;
      gpa_page_ = *gpa >> 12;
      valid_ = true;
    }
    return (gpa_page_ << 12) | (gva & 0xfff);
  }

 private:
  const MshvVcpu& vcpu_;
  bool write_;
  bool valid_ = false;
  std::uint64_t gva_page_ = 0, gpa_page_ = 0;
};

// Copies one string IO element between guest-virtual `gva` and `data` (OUTS reads guest memory, INS
// writes it), translating each page it touches: an element may straddle two pages (and, outside
// 64-bit mode, wrap from the last byte below 4 GiB to 0).
Result<void> copy_element(PageTranslations& pages, const PartitionMemory& memory, x86::CpuMode mode, std::uint64_t gva,
                          std::span<std::uint8_t> data) {
  const std::size_t first = std::min<std::size_t>(data.size(), 4096 - (gva & 0xfff));
  const std::uint64_t second = x86::wrap_linear(mode, gva + first);
  for (const auto& [at, part] : {std::pair{gva, data.first(first)}, std::pair{second, data.subspan(first)}}) {
    if (part.empty()) continue;
    auto gpa = pages.translate(at);
    if (!gpa) return tl::unexpected(gpa.error());
    const bool ok = pages.writes() ? memory.write(*gpa, std::span<const std::uint8_t>(part)) : memory.read(*gpa, part);
    if (!ok) {
      return fail(ErrorKind::Unsupported, kRun,
                  std::string(pages.writes() ? "INS into " : "OUTS from ") + hex(*gpa) + ", which is not " +
                      (pages.writes() ? "writable RAM" : "RAM"));
    }
  }
  return {};
}

}  // namespace

Result<void> MshvVcpu::on_io_intercept(const std::uint8_t* payload, IoHandler& io) {
  abi::HvIoPortIntercept m{};
  std::memcpy(&m, payload, sizeof m);
  const std::uint8_t size = m.access_info & abi::kIoAccessSizeMask;
  if (size != 1 && size != 2 && size != 4)
    return fail(ErrorKind::Internal, kRun, "IO intercept with access size " + std::to_string(size));
  const std::uint8_t length = m.header.instruction_length_and_cr8 & 0xf;
  // RIP + 0 would run the same IO instruction forever.
  if (length == 0)
    return fail(ErrorKind::Internal, kRun, "IO intercept without an instruction length at RIP " + hex(m.header.rip));
  if ((m.access_info & abi::kIoAccessString) != 0) return on_string_io(m, io);
  const std::uint64_t next_rip = x86::next_instruction_pointer(m.header.rip, length, cpu_mode(m.header));
  std::array<std::uint8_t, 4> data{};
  const auto element = std::span(data).first(size);
  if (m.header.intercept_access_type == abi::kAccessRead) {
    data.fill(0xff);  // what an unclaimed port answers
    io.pio_read(m.port_number, element);
    std::uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof value);
    const std::array regs = {assoc(reg::kRip, next_rip), assoc(reg::kRax, x86::write_register(m.rax, value, size))};
    return set(regs);
  }
  std::memcpy(data.data(), &m.rax, size);
  io.pio_write(m.port_number, element);
  const auto rip = assoc(reg::kRip, next_rip);
  return set(std::span(&rip, 1));
}

// INS/OUTS: the VMM moves the data between the device and guest memory [§12.1], one IoHandler call
// per element, at most kStringBytesPerIntercept per intercept.
Result<void> MshvVcpu::on_string_io(const abi::HvIoPortIntercept& m, IoHandler& io) {
  const std::uint8_t size = m.access_info & abi::kIoAccessSizeMask;
  const bool in = m.header.intercept_access_type == abi::kAccessRead;
  const bool rep = (m.access_info & abi::kIoAccessRep) != 0;
  const auto mode = cpu_mode(m.header);
  const bool long_mode = mode == x86::CpuMode::Long64;
  const std::uint64_t next_rip =
      x86::next_instruction_pointer(m.header.rip, m.header.instruction_length_and_cr8 & 0xf, mode);
  const auto prefixes =
      x86::scan_prefixes(std::span(m.instruction_bytes, std::min<std::size_t>(m.instruction_byte_count, 16)), mode);
  const std::uint8_t address_size = x86::address_size(mode, prefixes.address_size);
  const std::uint64_t index_mask = x86::width_mask(address_size);
  // INS writes ES:rDI, never overridable; OUTS reads DS:rSI or the override's segment. In 64-bit mode
  // only FS and GS have a base.
  const auto segment = in ? x86::SegmentRegister::Es : prefixes.segment;
  std::uint64_t segment_base = 0;
  if (segment == x86::SegmentRegister::Es || segment == x86::SegmentRegister::Ds) {
    segment_base = long_mode ? 0 : (segment == x86::SegmentRegister::Es ? m.es.base : m.ds.base);
  } else if (!long_mode || segment == x86::SegmentRegister::Fs || segment == x86::SegmentRegister::Gs) {
    static constexpr std::array<std::uint32_t, 6> kNames = {reg::kEs, reg::kCs, reg::kSs, reg::kDs, reg::kFs, reg::kGs};
    abi::HvRegisterValue value{};
    const std::uint32_t name = gsl::at(kNames, static_cast<gsl::index>(segment));
    if (auto r = get_vp_registers(vp_, index_, std::span(&name, 1), std::span(&value, 1)); !r)
      return tl::unexpected(r.error());
    abi::HvSegmentRegister s{};
    std::memcpy(&s, &value, sizeof s);
    segment_base = s.base;
  }
  const std::uint64_t count = rep ? (m.rcx & index_mask) : 1;
  const std::uint64_t budget = std::min<std::uint64_t>(count, kStringBytesPerIntercept / size);
  const bool down = (m.header.rflags & x86::kRflagsDirection) != 0;
  std::uint64_t index = in ? m.rdi : m.rsi;
  PageTranslations pages(*this, in);
  std::uint64_t done = 0;
  for (; done < budget; ++done) {
    std::array<std::uint8_t, 4> data{};
    const auto element = std::span(data).first(size);
    const std::uint64_t gva = x86::linear_address(mode, segment, segment_base, index, address_size);
    Result<void> moved;
    if (in) {
      data.fill(0xff);
      io.pio_read(m.port_number, element);
      moved = copy_element(pages, *memory_, mode, gva, element);
    } else {
      moved = copy_element(pages, *memory_, mode, gva, element);
      if (moved) io.pio_write(m.port_number, element);
    }
    // An element that cannot move: the ones before it stand; the guest re-executes the instruction
    // and the next intercept reports the error (as the CPU reports a fault after k iterations).
    if (!moved) {
      if (done == 0) return moved;
      break;
    }
    index = x86::step_string_index(index, size, address_size, down);
  }
  std::array<abi::HvRegisterAssoc, 3> regs{};
  gsl::index n = 0;
  gsl::at(regs, n++) = assoc(in ? reg::kRax + 7 : reg::kRax + 6, index);
  if (rep) gsl::at(regs, n++) = assoc(reg::kRax + 1, x86::write_register(m.rcx, m.rcx - done, address_size));
  if (done == count) gsl::at(regs, n++) = assoc(reg::kRip, next_rip);  // otherwise the guest continues it
  return set(std::span(regs).first(static_cast<std::size_t>(n)));
}

}  // namespace hv::mshv::detail
