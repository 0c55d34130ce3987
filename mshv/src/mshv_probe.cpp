// The MSHV probe (hv/mshv/probe.hpp): a real-mode guest of six instructions, run by issuing the ABI's
// ioctls and hypercalls directly (mshv_calls.hpp, mshv_registers.hpp), so each message is recorded
// exactly as MSHV_RUN_VP returned it. The probe completes the two intercepts itself, from what its own
// script says (it emulates nothing): the questions are what the hypervisor reports, not how hvkit
// handles it. [§n] cites docs/mshv-abi.md.
#include <array>
#include <cstddef>
#include <cstring>
#include <string>

#include "hv/guest_memory.hpp"
#include "hv/mshv/counting_system.hpp"
#include "hv/mshv/probe.hpp"
#include "mshv_abi.hpp"
#include "mshv_calls.hpp"
#include "mshv_register_page.hpp"
#include "mshv_registers.hpp"

namespace hv::mshv {

namespace {

namespace reg = abi::reg;
using detail::MshvFd;

constexpr std::uint64_t kRamSize = 0x8000;  // GPA 0..0x8000; 0x9000 is no RAM
constexpr std::uint64_t kCode = 0x1000;
constexpr std::uint64_t kOutAddress = 0x1002, kMovAddress = 0x1004, kAfterMov = 0x1007, kHltAddress = 0x100c;
constexpr std::uint64_t kStoredPage = 2;       // mov byte [0x2000], 0xa5
constexpr std::uint64_t kDevicePage = 0x9000;  // mov [0x9000], al: no RAM
// mov al, 0x5a ; out 0x80, al ; mov [0x9000], al ; mov byte [0x2000], 0xa5 ; hlt ; jmp $
constexpr std::array<std::uint8_t, 15> kScript = {0xb0, 0x5a, 0xe6, 0x80, 0xa2, 0x00, 0x90, 0xc6,
                                                  0x06, 0x00, 0x20, 0xa5, 0xf4, 0xeb, 0xfe};
static_assert(kCode + 2 == kOutAddress && kCode + 4 == kMovAddress && kCode + 7 == kAfterMov &&
              kCode + 12 == kHltAddress);
constexpr int kMaxInterruptedRuns = 100;

std::string describe(const Error& e) { return e.to_string(); }

abi::HvRegisterValue segment(std::uint16_t attributes) {
  abi::HvSegmentRegister s{};
  s.base = 0;
  s.limit = 0xffff;
  s.selector = 0;
  s.attributes = attributes;
  abi::HvRegisterValue v{};
  std::memcpy(&v, &s, sizeof v);
  return v;
}

class Session {
 public:
  Session(std::shared_ptr<MshvSystem> system, ProbeReport& report) : system_(std::move(system)), report_(report) {}

  Result<void> create() {
    const int dev = system_->open_device();
    if (dev < 0) return fail_errno("mshv-probe: opening " + system_->describe(), -dev);
    device_ = MshvFd(system_, dev);
    // No LAPIC flag: an HLT then reaches the VMM as X64_HALT (Hyperlight's default, §14).
    abi::CreatePartition create{};
    create.pt_isolation = abi::kPtIsolationNone;
    auto pt = device_.call(abi::kCreatePartition, &create, "MSHV_CREATE_PARTITION");
    if (!pt) return tl::unexpected(pt.error());
    partition_ = MshvFd(system_, static_cast<int>(*pt));
    return {};
  }

  Result<void> set_up_guest() {
    if (auto r = partition_.call(abi::kInitializePartition, nullptr, "MSHV_INITIALIZE_PARTITION"); !r)
      return tl::unexpected(r.error());
    auto ram = GuestRegion::create(0, kRamSize);
    if (!ram) return tl::unexpected(ram.error());
    ram_ = *ram;
    std::memcpy(ram_->host().data() + kCode, kScript.data(), kScript.size());
    abi::UserMemRegion region{};
    region.size = kRamSize;
    region.guest_pfn = 0;
    region.userspace_addr = detail::user_address(ram_->host().data());
    region.flags = (1U << abi::kSetMemBitWritable) | (1U << abi::kSetMemBitExecutable);
    if (auto r = partition_.call(abi::kSetGuestMemory, &region, "MSHV_SET_GUEST_MEMORY"); !r)
      return tl::unexpected(r.error());
    abi::CreateVp vp{};
    auto fd = partition_.call(abi::kCreateVp, &vp, "MSHV_CREATE_VP");
    if (!fd) return tl::unexpected(fd.error());
    vp_ = MshvFd(system_, static_cast<int>(*fd));
    auto mapping = system_->map_vp_page(vp_.get(), abi::kVpMmapOffsetRegisters);
    if (mapping.page && mapping.page->bytes().size() >= sizeof(abi::HvVpRegisterPage)) {
      page_ = std::move(mapping.page);
      report_.register_page.mapping = "ok";
    } else {
      report_.register_page.mapping = mapping.error != 0
                                          ? fail_errno("mmap of the register page", mapping.error).value().to_string()
                                          : std::string("a page shorter than the register page");
    }
    // Real mode at kCode with flat 64 KiB segments (CS: code, accessed; the others: data, accessed).
    const std::array assocs = {detail::assoc_raw(reg::kCs, segment(0x9b)),
                               detail::assoc_raw(reg::kDs, segment(0x93)),
                               detail::assoc_raw(reg::kEs, segment(0x93)),
                               detail::assoc_raw(reg::kSs, segment(0x93)),
                               detail::assoc(reg::kRip, kCode),
                               detail::assoc(reg::kRflags, 0x2),
                               detail::assoc(reg::kRax, 0)};
    return detail::set_vp_registers(vp_, 0, assocs);
  }

  void dirty_log_on() {
    auto& log = report_.dirty_log;
    log.pages = kRamSize / 4096;
    log.stored_page = kStoredPage;
    log.enable = result_text(set_tracking(1));
    if (log.enable == "ok") log.first_bitmap = bitmap(abi::kGpapAccessOpClear, log.first_bitmap_error);
  }

  void dirty_log_off() {
    auto& log = report_.dirty_log;
    if (log.enable != "ok") return;
    log.after_run_bitmap = bitmap(abi::kGpapAccessOpClear, log.after_run_bitmap_error);
    log.disable_directly = result_text(set_tracking(0));
    if (log.disable_directly == "ok") {
      log.set_all_dirty = "not tried";
      log.disable_after_set = "not tried";
      return;
    }
    std::string error;
    bitmap(abi::kGpapAccessOpSet, error);
    log.set_all_dirty = error.empty() ? "ok" : error;
    log.disable_after_set = result_text(set_tracking(0));
  }

  // The script's three stops, each completed as the script says.
  Result<void> run_script() {
    auto io = intercept("io", kOutAddress, {abi::kMsgX64IoPortIntercept});
    if (!io) return tl::unexpected(io.error());
    if (auto r = complete(*io, (*io)->header_rip + (*io)->instruction_length); !r) return r;
    auto memory = intercept("memory", kMovAddress, {abi::kMsgUnmappedGpa, abi::kMsgGpaIntercept});
    if (!memory) return tl::unexpected(memory.error());
    translate_device_page(abi::kTranslateValidateRead, "validate_read");
    translate_device_page(0, "none");
    if (auto r = complete(*memory, kAfterMov); !r) return r;
    auto halt = intercept("halt", kHltAddress, {abi::kMsgX64Halt});
    if (!halt) return tl::unexpected(halt.error());
    return {};
  }

 private:
  static std::string result_text(const Result<void>& r) { return r ? "ok" : describe(r.error()); }

  Result<void> set_tracking(std::uint64_t on) {
    abi::HvInputSetPartitionProperty in{};
    in.property_code = abi::kPropertyGpaPageAccessTracking;
    in.property_value = on;
    std::array<std::uint8_t, sizeof in> input{};
    std::memcpy(input.data(), &in, sizeof in);
    auto r = detail::hypercall(partition_, abi::kHvcallSetPartitionProperty, 0, input, {},
                               "HVCALL_SET_PARTITION_PROPERTY(GPA_PAGE_ACCESS_TRACKING)");
    if (!r) return tl::unexpected(r.error());
    return {};
  }

  std::vector<std::uint8_t> bitmap(std::uint8_t op, std::string& error) {
    std::vector<std::uint8_t> bits((kRamSize / 4096 + 7) / 8);
    abi::GpapAccessBitmap arg{};
    arg.access_type = abi::kGpapAccessTypeDirty;
    arg.access_op = op;
    arg.page_count = kRamSize / 4096;
    arg.gpap_base = 0;
    arg.bitmap_ptr = detail::user_address(bits.data());
    auto r = partition_.call(abi::kGetGpapAccessBitmap, &arg, "MSHV_GET_GPAP_ACCESS_BITMAP");
    if (!r) {
      error = describe(r.error());
      return {};
    }
    return bits;
  }

  // One translation of the device page kDevicePage; a failed hypercall is recorded, not fatal.
  void translate_device_page(std::uint64_t flags, const char* name) {
    ProbeTranslation& t = report_.device_translations.emplace_back();
    t.flags = name;
    t.gva = kDevicePage;
    abi::HvInputTranslateVirtualAddress in{};
    in.control_flags = flags;
    in.gva_page = kDevicePage >> 12;
    std::array<std::uint8_t, sizeof in> input{};
    std::memcpy(input.data(), &in, sizeof in);
    std::array<std::uint8_t, sizeof(abi::HvOutputTranslateVirtualAddress)> output{};
    auto r = detail::hypercall(vp_, abi::kHvcallTranslateVirtualAddress, 0, input, output,
                               "HVCALL_TRANSLATE_VIRTUAL_ADDRESS");
    t.status = r ? "ok" : describe(r.error());
    abi::HvOutputTranslateVirtualAddress out{};
    std::memcpy(&out, output.data(), sizeof out);
    t.result_code = out.result_code;
    t.gpa_page = out.gpa_page;
  }

  Result<NamedValues> registers() {
    static constexpr std::array<std::pair<const char*, std::uint32_t>, 3> kNames = {
        {{"rip", reg::kRip}, {"rax", reg::kRax}, {"rflags", reg::kRflags}}};
    std::array<std::uint32_t, kNames.size()> names{};
    for (std::size_t i = 0; i < kNames.size(); ++i) names.at(i) = kNames.at(i).second;
    std::array<abi::HvRegisterValue, kNames.size()> values{};
    if (auto r = detail::get_vp_registers(vp_, 0, names, values); !r) return tl::unexpected(r.error());
    NamedValues out;
    for (std::size_t i = 0; i < kNames.size(); ++i) out.emplace_back(kNames.at(i).first, values.at(i).low);
    return out;
  }

  // Runs the VP to its next message, which must be one of `expected`; records it and the registers.
  Result<ProbeIntercept*> intercept(const char* step, std::uint64_t address,
                                    std::initializer_list<std::uint32_t> expected) {
    abi::RunVp message{};
    for (int attempt = 0;; ++attempt) {
      bool interrupted = false;
      auto r = vp_.call_once(abi::kRunVp, &message, "MSHV_RUN_VP", interrupted);
      if (!r) return tl::unexpected(r.error());
      if (!interrupted) break;
      if (attempt == kMaxInterruptedRuns)
        return fail(ErrorKind::Internal, "mshv-probe", "MSHV_RUN_VP was interrupted 100 times in a row");
    }
    abi::HvMessageHeader header{};
    std::memcpy(&header, message.msg_buf, sizeof header);
    abi::HvInterceptHeader ih{};
    std::memcpy(&ih, message.msg_buf + sizeof header, sizeof ih);
    ProbeIntercept& seen = report_.intercepts.emplace_back();
    seen.step = step;
    seen.message_type = message_type_name(header.message_type);
    seen.message.assign(std::begin(message.msg_buf), std::end(message.msg_buf));
    seen.instruction_address = address;
    seen.header_rip = ih.rip;
    seen.instruction_length = ih.instruction_length_and_cr8 & 0xf;
    if (page_) {
      ProbePageSample& sample = report_.register_page.samples.emplace_back();
      sample.step = step;
      read_page(sample.isvalid, sample.rip);
    }
    auto regs = registers();
    if (!regs) return tl::unexpected(regs.error());
    seen.registers_at_intercept = std::move(*regs);
    bool wanted = false;
    for (const std::uint32_t type : expected) wanted = wanted || type == header.message_type;
    if (!wanted) {
      return fail(ErrorKind::Internal, "mshv-probe",
                  std::string("expected the ") + step + " intercept at " + hex(address) + ", got " + seen.message_type +
                      " (RIP " + hex(ih.rip) + ")");
    }
    return &seen;
  }

  Result<void> complete(ProbeIntercept* seen, std::uint64_t next_rip) {
    const std::array rip = {detail::assoc(reg::kRip, next_rip)};
    if (auto r = detail::set_vp_registers(vp_, 0, rip); !r) return r;
    if (page_ && !report_.register_page.samples.empty()) {
      ProbePageSample& sample = report_.register_page.samples.back();
      sample.after_set = true;
      read_page(sample.isvalid_after_set, sample.rip_after_set);
    }
    auto regs = registers();
    if (!regs) return tl::unexpected(regs.error());
    seen->registers_after = std::move(*regs);
    return {};
  }

  void read_page(std::uint8_t& isvalid, std::uint64_t& rip) const {
    const auto bytes = page_->bytes();
    std::memcpy(&isvalid, bytes.data() + offsetof(abi::HvVpRegisterPage, isvalid), sizeof isvalid);
    std::memcpy(&rip, bytes.data() + offsetof(abi::HvVpRegisterPage, rip), sizeof rip);
  }

  std::shared_ptr<MshvSystem> system_;
  ProbeReport& report_;
  std::unique_ptr<MappedPage> page_;  // the VP register page, when it maps
  std::shared_ptr<GuestRegion> ram_;  // outlives the partition that maps it
  MshvFd device_;
  MshvFd partition_;
  MshvFd vp_;
};

}  // namespace

Result<ProbeReport> run_probe(std::shared_ptr<MshvSystem> system) {
  if (!system) return fail(ErrorKind::InvalidArgument, "mshv-probe", "no system");
  ProbeReport report;
  report.system = system->describe();
  Session session(std::move(system), report);
  if (auto r = session.create(); !r) return tl::unexpected(r.error());
  if (auto r = session.set_up_guest(); !r) {
    report.error = describe(r.error());
    return report;
  }
  session.dirty_log_on();
  if (auto r = session.run_script(); !r) report.error = describe(r.error());
  session.dirty_log_off();
  return report;
}

}  // namespace hv::mshv
