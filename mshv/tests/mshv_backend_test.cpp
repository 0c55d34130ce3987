// The MSHV backend's own duties, run against the ABI simulator: string IO that a guest asks to be
// huge stays bounded per intercept and yields to kicks, completes across resumes with every byte in
// order, one IoHandler call per element, splits elements at page boundaries and refuses memory that is not RAM;
// malformed intercepts and hypercall results are errors; kicks reach only a thread inside run(), and a VMM's own
// SIGRTMIN+1 handler is not replaced; and what the backend writes into guest RAM for the guest
// reaches the dirty log. docs/threat-model/mshv-backend.md names these tests.
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"
#include "kick_signal_scenario.hpp"
#include "mshv_abi.hpp"
#include "mshv_memory.hpp"

namespace {

constexpr std::uint64_t kRam = 0x400000;  // 4 MiB
constexpr std::uint64_t kTables = 0x380000;
constexpr std::uint64_t kSource = 0x100000;  // REP OUTSB reads from here
constexpr std::uint64_t kBytes = 0x40000;    // 256 KiB: 64 pages, four times the per-intercept share

// mov rcx, kBytes ; mov rsi, kSource ; mov dx, 0x80 ; rep outsb ; hlt
const std::vector<std::uint8_t> kGuest = {0x48, 0xc7, 0xc1, 0x00, 0x00, 0x04, 0x00, 0x48, 0xc7, 0xc6, 0x00,
                                          0x00, 0x10, 0x00, 0x66, 0xba, 0x80, 0x00, 0xf3, 0x6e, 0xf4};
constexpr std::uint64_t kRepRip = 0x1000 + 18;

struct Guest {
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
  std::shared_ptr<hv::GuestRegion> ram;
};

Guest boot() {
  Guest g;
  auto system = hv::mshv::make_simulator();
  if (!system) return g;
  auto h = hv::mshv::open(*system, "mshv-sim");
  EXPECT_TRUE(h);
  g.hypervisor = std::move(*h);
  auto vm = g.hypervisor->create_vm();
  EXPECT_TRUE(vm);
  g.vm = std::move(*vm);
  auto ram = hv::GuestRegion::create(0, kRam);
  EXPECT_TRUE(ram);
  g.ram = *ram;
  std::memcpy(g.ram->host().data() + 0x1000, kGuest.data(), kGuest.size());
  for (std::uint64_t i = 0; i < kBytes; ++i) g.ram->host()[kSource + i] = static_cast<std::uint8_t>(i * 7 + i / 4096);
  EXPECT_TRUE(g.vm->map_memory(g.ram));
  auto vcpu = g.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(g.ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, kTables, 0x1000, 0x8000));
  return g;
}

bool have_kvm() { return hv::mshv::probe_simulator().available; }

// run() for guests whose device accesses the test does not look at.
hv::Result<hv::Exit> run_ignoring_io(hv::Vcpu& vcpu) {
  hv::testing::RecordingIo io;
  return vcpu.run(io);
}

// Collects what the guest writes to ports; optionally kicks `vcpu` once `kick_at` bytes arrived.
struct ByteSink final : hv::IoHandler {
  std::vector<std::uint8_t> received;
  std::uint64_t accesses = 0;
  std::uint64_t kick_at = 0;
  hv::Vcpu* vcpu = nullptr;
  void pio_write(std::uint16_t, std::span<const std::uint8_t> data) noexcept override {
    received.insert(received.end(), data.begin(), data.end());
    ++accesses;
    if (vcpu != nullptr && received.size() == kick_at) vcpu->kick();
  }
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}
};

// One run() moves the whole 256 KiB, an IoHandler call per byte in order, although each intercept
// moves at most 64 KiB (the guest re-executes the REP for the rest, four intercepts in all).
TEST(MshvBackend, LongRepOutsCompletesAcrossResumesInOrder) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  Guest g = boot();
  ASSERT_TRUE(g.vcpu);
  ByteSink sink;
  auto exit = g.vcpu->run(sink);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(sink.received.size(), kBytes);
  EXPECT_EQ(std::memcmp(sink.received.data(), g.ram->host().data() + kSource, kBytes), 0);
  EXPECT_EQ(sink.accesses, kBytes) << "one call per OUTSB element";
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rcx, 0U);
  EXPECT_EQ(regs->rsi, kSource + kBytes);
  EXPECT_EQ(regs->rip, kRepRip + 3);  // past the HLT
}

// A kick (here from the handler, after 3 pages) stops the REP at the end of the intercept's share:
// RIP still on the instruction, RCX and RSI saying how far it got, as after an interrupt between
// iterations; the next run() finishes it.
TEST(MshvBackend, AKickStopsALongRepAtTheInterceptsEndWithItsProgressSaved) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  Guest g = boot();
  ASSERT_TRUE(g.vcpu);
  ByteSink sink;
  sink.kick_at = 3 * 4096;
  sink.vcpu = g.vcpu.get();
  auto exit = g.vcpu->run(sink);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::InterruptedExit>(*exit)) << hv::exit_name(*exit);
  constexpr std::uint64_t kShare = 64 * 1024;
  EXPECT_EQ(sink.received.size(), kShare);
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, kRepRip);
  EXPECT_EQ(regs->rcx, kBytes - kShare);
  EXPECT_EQ(regs->rsi, kSource + kShare);
  exit = g.vcpu->run(sink);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(sink.received.size(), kBytes);
  EXPECT_EQ(std::memcmp(sink.received.data(), g.ram->host().data() + kSource, kBytes), 0);
}

// The simulator behind a seam that lets a test edit each intercept message before the backend sees
// it (and, with an HvcallHook, what each hypercall writes back), and that counts the backend's
// guest-address translations of the page at kWatchedPage.
class TamperingSystem final : public hv::mshv::MshvSystem {
 public:
  using Hook = std::function<void(hv::mshv::abi::HvMessage&)>;
  using HvcallHook = std::function<void(hv::mshv::abi::RootHvcall&)>;
  TamperingSystem(std::shared_ptr<hv::mshv::MshvSystem> inner, Hook hook, HvcallHook hvcall_hook = {})
      : inner_(std::move(inner)), hook_(std::move(hook)), hvcall_hook_(std::move(hvcall_hook)) {}
  int open_device() noexcept override { return inner_->open_device(); }
  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    namespace abi = hv::mshv::abi;
    if (request == abi::kRootHvcall) {
      abi::RootHvcall call{};
      std::memcpy(&call, arg, sizeof call);
      if (call.code == abi::kHvcallTranslateVirtualAddress &&
          call.in_sz >= sizeof(abi::HvInputTranslateVirtualAddress)) {
        abi::HvInputTranslateVirtualAddress in{};
        std::memcpy(&in, reinterpret_cast<const void*>(call.in_ptr), sizeof in);
        if (in.gva_page == kWatchedPage) ++watched_translations;
        highest_gva_page = std::max(highest_gva_page, in.gva_page);
        ++translations;
        translate_flags |= in.control_flags;
      }
    }
    const long result = inner_->ioctl(fd, request, arg);
    if (request == abi::kRootHvcall && hvcall_hook_) {
      abi::RootHvcall call{};
      std::memcpy(&call, arg, sizeof call);
      hvcall_hook_(call);
      std::memcpy(arg, &call, sizeof call);
    }
    if (result == 0 && request == abi::kRunVp) {
      abi::HvMessage message{};
      std::memcpy(&message, arg, sizeof message);
      hook_(message);
      std::memcpy(arg, &message, sizeof message);
    }
    return result;
  }
  void close(int fd) noexcept override { inner_->close(fd); }
  hv::mshv::PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override {
    return inner_->map_vp_page(vp_fd, page_offset);
  }
  [[nodiscard]] std::string describe() const override { return inner_->describe(); }

  static constexpr std::uint64_t kWatchedPage = 1;  // the guest's code, at 0x1000
  int watched_translations = 0;
  int translations = 0;                // every HVCALL_TRANSLATE_VIRTUAL_ADDRESS the backend made
  std::uint64_t translate_flags = 0;   // the control flags of all of them, ORed
  std::uint64_t highest_gva_page = 0;  // the highest page any of them asked for

 private:
  std::shared_ptr<hv::mshv::MshvSystem> inner_;
  Hook hook_;
  HvcallHook hvcall_hook_;
};

// mov $0xd0000000, %ebx ; mov $0x11223344, %eax ; mov %eax, (%rbx) (89 03, at kStoreRip) ; hlt
const std::vector<std::uint8_t> kMmioStore = {0xbb, 0x00, 0x00, 0x00, 0xd0, 0xb8, 0x44,
                                              0x33, 0x22, 0x11, 0x89, 0x03, 0xf4};
constexpr std::uint64_t kStoreRip = 0x1000 + 10;

// The hypervisor gives one byte of an instruction it read (89: MOV r/m32, r32), which alone does not
// decode; by the time the backend fetches the rest, the guest has made that byte 88 (MOV r/m8, r8).
// The instruction emulated is the one the hypervisor read: a 4-byte store of EAX, completed by the
// ModRM byte from memory — one translation of the code page for the tail, not one per byte.
TEST(MshvBackend, AShortInstructionIsCompletedFromMemoryNotReadAgain) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  std::shared_ptr<hv::GuestRegion> ram;
  int intercepts = 0;
  auto system = std::make_shared<TamperingSystem>(*simulator, [&](hv::mshv::abi::HvMessage& message) {
    namespace abi = hv::mshv::abi;
    if (message.header.message_type != abi::kMsgUnmappedGpa) return;
    abi::HvMemoryIntercept m{};
    std::memcpy(&m, message.payload, sizeof m);
    ASSERT_EQ(m.header.rip, kStoreRip);
    ASSERT_GE(m.instruction_byte_count, 2);
    ASSERT_EQ(m.instruction_bytes[0], 0x89);
    m.instruction_byte_count = 1;
    std::memcpy(message.payload, &m, sizeof m);
    ram->host()[kStoreRip] = 0x88;
    ++intercepts;
  });
  auto h = hv::mshv::open(system, "mshv-sim");
  ASSERT_TRUE(h) << h.error().to_string();
  auto vm = (*h)->create_vm();
  ASSERT_TRUE(vm);
  auto region = hv::GuestRegion::create(0, kRam);
  ASSERT_TRUE(region);
  ram = *region;
  std::memcpy(ram->host().data() + 0x1000, kMmioStore.data(), kMmioStore.size());
  ASSERT_TRUE((*vm)->map_memory(ram));
  auto vcpu = (*vm)->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  hv::GuestMemory memory;
  ASSERT_TRUE(memory.add_region(ram));
  ASSERT_TRUE(hv::x86::enter_long_mode(memory, **vcpu, kTables, 0x1000, 0x8000));
  system->watched_translations = 0;

  hv::testing::RecordingIo io;
  auto exit = (*vcpu)->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(intercepts, 1);
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_TRUE(io.accesses[0].is(hv::testing::Space::Mmio, 0xd0000000U, hv::AccessDirection::Write));
  EXPECT_EQ(io.accesses[0].data, (std::vector<std::uint8_t>{0x44, 0x33, 0x22, 0x11}))
      << "the instruction was read from guest memory again (88: a 1-byte store)";
  EXPECT_EQ(system->watched_translations, 1) << "the missing tail is fetched a page at a time";
  auto regs = (*vcpu)->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, kStoreRip + 3);  // past the 2-byte store and the HLT
}

// `code` at 0x1000, run in long mode by the backend over `system`.
struct CodeGuest {
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
  std::shared_ptr<hv::GuestRegion> ram;
};
CodeGuest boot_code(std::shared_ptr<hv::mshv::MshvSystem> system, const std::vector<std::uint8_t>& code) {
  CodeGuest g;
  auto h = hv::mshv::open(std::move(system), "mshv-sim");
  EXPECT_TRUE(h);
  if (!h) return g;
  g.hypervisor = std::move(*h);
  auto vm = g.hypervisor->create_vm();
  EXPECT_TRUE(vm);
  if (!vm) return g;
  g.vm = std::move(*vm);
  auto ram = hv::GuestRegion::create(0, kRam);
  EXPECT_TRUE(ram);
  if (!ram) return g;
  g.ram = *ram;
  std::memcpy(g.ram->host().data() + 0x1000, code.data(), code.size());
  EXPECT_TRUE(g.vm->map_memory(*ram));
  auto vcpu = g.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  if (!vcpu) return g;
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(*ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, kTables, 0x1000, 0x8000));
  return g;
}

// What MSHV says when it cannot run a VP reaches the VMM as an InternalErrorExit carrying it.
TEST(MshvBackend, UnsupportedFeatureIsAnInternalErrorWithTheFeatureAndParameter) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  auto system = std::make_shared<TamperingSystem>(*simulator, [](hv::mshv::abi::HvMessage& message) {
    namespace abi = hv::mshv::abi;
    if (message.header.message_type != abi::kMsgX64Halt) return;
    message = {};
    message.header.message_type = abi::kMsgUnsupportedFeature;
    message.header.payload_size = 16;
    const std::uint32_t feature = 5;
    const std::uint64_t parameter = 0x1234;
    std::memcpy(message.payload + 4, &feature, sizeof feature);
    std::memcpy(message.payload + 8, &parameter, sizeof parameter);
  });
  CodeGuest g = boot_code(system, {0xf4});  // hlt
  ASSERT_TRUE(g.vcpu);
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  const auto* internal = std::get_if<hv::InternalErrorExit>(&*exit);
  ASSERT_NE(internal, nullptr) << hv::exit_name(*exit);
  EXPECT_EQ(internal->code, hv::mshv::abi::kMsgUnsupportedFeature);
  EXPECT_EQ(internal->name, "HVMSG_UNSUPPORTED_FEATURE");
  EXPECT_EQ(internal->detail, 5U);
  ASSERT_EQ(internal->data.size(), 1U);
  EXPECT_EQ(internal->data[0], 0x1234U);
}

// An MMIO access by an instruction the backend's emulator cannot handle is an error that says where
// and what: the RIP and the instruction bytes.
TEST(MshvBackend, AnInstructionItCannotEmulateIsReportedWithRipAndBytes) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  // mov $0xd0000000, %ebx ; movaps %xmm0, (%rbx) (0f 29 03: an SSE store, which hvkit does not emulate)
  CodeGuest g = boot_code(*simulator, {0xbb, 0x00, 0x00, 0x00, 0xd0, 0x0f, 0x29, 0x03, 0xf4});
  ASSERT_TRUE(g.vcpu);
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_FALSE(exit) << hv::exit_name(*exit);
  EXPECT_NE(exit.error().message().find("at RIP 0x1005"), std::string::npos) << exit.error().to_string();
  EXPECT_NE(exit.error().message().find("0f 29 03 f4"), std::string::npos) << exit.error().to_string();
}

// A string IO element that straddles a page boundary, where the guest maps the two virtual pages to
// physical frames that are not adjacent: each part of the element is copied from (OUTS) or to (INS)
// its own page's frame, never from the frame physically after the first one.
TEST(MshvBackend, AStringElementAcrossPagesUsesEachPagesOwnFrame) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  // mov $0x10ffe, %esi ; mov $0x80, %edx ; outsl ; mov $0x10ffe, %edi ; insl ; hlt
  CodeGuest g = boot_code(*simulator, {0xbe, 0xfe, 0x0f, 0x01, 0x00, 0xba, 0x80, 0x00, 0x00, 0x00, 0x6f, 0xbf, 0xfe,
                                       0x0f, 0x01, 0x00, 0x6d, 0xf4});
  ASSERT_TRUE(g.vcpu);
  // Our own tables at 0x300000: 4 KiB pages over the first 2 MiB (identity, except virtual pages 0x10
  // and 0x11, which map to the frames 0x30 and 0x50), one 2 MiB page for the rest of RAM.
  std::uint8_t* ram = g.ram->host().data();
  const auto entry = [&](std::uint64_t table, std::uint64_t index, std::uint64_t value) {
    std::memcpy(ram + table + index * 8, &value, sizeof value);
  };
  entry(0x300000, 0, 0x301000 | 3);
  entry(0x301000, 0, 0x302000 | 3);
  entry(0x302000, 0, 0x303000 | 3);
  entry(0x302000, 1, 0x200000 | 0x83);
  for (std::uint64_t page = 0; page < 512; ++page) entry(0x303000, page, (page << 12) | 3);
  entry(0x303000, 0x10, 0x30000 | 3);
  entry(0x303000, 0x11, 0x50000 | 3);
  auto sregs = g.vcpu->get_special_registers();
  ASSERT_TRUE(sregs);
  sregs->cr3 = 0x300000;
  ASSERT_TRUE(g.vcpu->set_special_registers(*sregs));
  const auto bytes = [&](std::uint64_t gpa) { return std::vector<std::uint8_t>{ram[gpa], ram[gpa + 1]}; };
  const auto set = [&](std::uint64_t gpa, std::uint8_t a, std::uint8_t b) {
    ram[gpa] = a;
    ram[gpa + 1] = b;
  };
  set(0x30ffe, 0x11, 0x22);  // the element's first half, at the end of frame 0x30
  set(0x31000, 0xee, 0xee);  // the frame physically next to it, which the guest does not map there
  set(0x50000, 0x33, 0x44);  // the element's second half, at the start of frame 0x50

  hv::testing::RecordingIo io([](hv::testing::Space, std::uint64_t, std::span<std::uint8_t> data) {
    const std::array<std::uint8_t, 4> answer = {0xa1, 0xa2, 0xa3, 0xa4};
    std::copy_n(answer.begin(), std::min(answer.size(), data.size()), data.begin());
  });
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(io.accesses.size(), 2U);
  ASSERT_EQ(io.accesses[0].direction, hv::AccessDirection::Write);
  EXPECT_EQ(io.accesses[0].data, (std::vector<std::uint8_t>{0x11, 0x22, 0x33, 0x44}));
  ASSERT_EQ(io.accesses[1].direction, hv::AccessDirection::Read);
  ASSERT_EQ(io.accesses[1].data.size(), 4U);
  EXPECT_EQ(bytes(0x30ffe), (std::vector<std::uint8_t>{0xa1, 0xa2}));
  EXPECT_EQ(bytes(0x50000), (std::vector<std::uint8_t>{0xa3, 0xa4}));
  EXPECT_EQ(bytes(0x31000), (std::vector<std::uint8_t>{0xee, 0xee})) << "INS wrote the physically next frame";
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rsi, 0x11002U);
  EXPECT_EQ(regs->rdi, 0x11002U);
}

// 32-bit protected mode without paging: CS a flat code segment (selector 8), the data segments flat
// (selector 0x10), except `based` (selector 0x18), whose base is `base`.
void enter_flat_protected_mode(hv::Vcpu& vcpu, hv::Segment hv::SpecialRegisters::*based, std::uint64_t base) {
  auto sregs = vcpu.get_special_registers();
  ASSERT_TRUE(sregs);
  sregs->cr0 = 0x11;  // PE, ET: no paging
  sregs->cr4 = 0;
  sregs->efer = 0;
  const auto flat = [](std::uint8_t type, std::uint16_t selector) {
    return hv::Segment{.base = 0,
                       .limit = 0xffffffff,
                       .selector = selector,
                       .type = type,
                       .dpl = 0,
                       .present = true,
                       .db = true,
                       .s = true,
                       .l = false,
                       .g = true};
  };
  sregs->cs = flat(0xb, 0x8);
  sregs->ds = sregs->es = sregs->ss = sregs->fs = sregs->gs = flat(0x3, 0x10);
  (*sregs).*based = flat(0x3, 0x18);
  ((*sregs).*based).base = base;
  ASSERT_TRUE(vcpu.set_special_registers(*sregs));
}

// 32-bit protected mode, ES base 0xfffff000: INSB to ES:EDI = 0x3000 writes linear 0x2000 (the sum
// wraps at 4 GiB), and ES: OUTSL from ES:ESI = 0x4ffe reads linear 0x3ffe. The backend asks the
// hypervisor only for 32-bit addresses (mshv-sim, like the CPU, truncates a longer one itself; the
// hypervisor promises nothing for it).
TEST(MshvBackend, StringIoAddressesWrapAt4GiBOutside64BitMode) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  auto system = std::make_shared<TamperingSystem>(*simulator, [](hv::mshv::abi::HvMessage&) {});
  // mov $0x3000, %edi ; mov $0x80, %edx ; insb ; mov $0x4ffe, %esi ; es outsl ; hlt
  CodeGuest g = boot_code(system, {0xbf, 0x00, 0x30, 0x00, 0x00, 0xba, 0x80, 0x00, 0x00, 0x00, 0x6c, 0xbe, 0xfe, 0x4f,
                                   0x00, 0x00, 0x26, 0x6f, 0xf4});
  ASSERT_TRUE(g.vcpu);
  ASSERT_NO_FATAL_FAILURE(enter_flat_protected_mode(*g.vcpu, &hv::SpecialRegisters::es, 0xfffff000));
  std::uint8_t* ram = g.ram->host().data();
  ram[0x2000] = 0xee;
  const std::array<std::uint8_t, 4> source = {0x11, 0x22, 0x33, 0x44};  // at linear 0x3ffe, across a page
  std::memcpy(ram + 0x3ffe, source.data(), source.size());
  hv::testing::RecordingIo io([](hv::testing::Space, std::uint64_t, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xa5});
  });
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  EXPECT_EQ(ram[0x2000], 0xa5) << "INSB did not land at the wrapped linear address 0x2000";
  ASSERT_EQ(io.accesses.size(), 2U);
  EXPECT_EQ(io.accesses[1].data, (std::vector<std::uint8_t>{0x11, 0x22, 0x33, 0x44}));
  EXPECT_LT(system->highest_gva_page, std::uint64_t{1} << 20) << "asked to translate a linear address above 4 GiB";
}

// A device access that crosses the top of the 4 GiB linear space outside 64-bit mode: its second page
// is linear 0, not 0x1_0000_0000 (review of the wrap fix: the MMIO path split the access unwrapped).
TEST(MshvBackend, AnMmioAccessAcross4GiBWrapsOutside64BitMode) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  auto system = std::make_shared<TamperingSystem>(*simulator, [](hv::mshv::abi::HvMessage&) {});
  // mov $0xffe, %esi ; mov (%esi), %eax ; hlt  — DS base 0xfffff000: linear 0xfffffffe, 4 bytes
  CodeGuest g = boot_code(system, {0xbe, 0xfe, 0x0f, 0x00, 0x00, 0x8b, 0x06, 0xf4});
  ASSERT_TRUE(g.vcpu);
  ASSERT_NO_FATAL_FAILURE(enter_flat_protected_mode(*g.vcpu, &hv::SpecialRegisters::ds, 0xfffff000));
  hv::testing::RecordingIo io([](hv::testing::Space, std::uint64_t, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), std::uint8_t{0x5a});
  });
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_FALSE(io.accesses.empty());
  EXPECT_EQ(io.accesses[0].address, 0xfffffffeU);
  EXPECT_LT(system->highest_gva_page, std::uint64_t{1} << 20) << "asked to translate a linear address above 4 GiB";
}

// An IO intercept that says its instruction is 0 bytes long would make RIP + 0 the next RIP: the same
// OUT, intercepted forever. The backend refuses the message instead.
TEST(MshvBackend, AnIoInterceptWithInstructionLengthZeroIsAnInternalError) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  int tampered = 0;
  auto system = std::make_shared<TamperingSystem>(*simulator, [&](hv::mshv::abi::HvMessage& message) {
    namespace abi = hv::mshv::abi;
    if (message.header.message_type != abi::kMsgX64IoPortIntercept) return;
    abi::HvIoPortIntercept io{};
    std::memcpy(&io, message.payload, sizeof io);
    io.header.instruction_length_and_cr8 &= 0xf0;  // keep CR8, clear the length
    std::memcpy(message.payload, &io, sizeof io);
    ++tampered;
  });
  CodeGuest g = boot_code(system, {0xe6, 0x80, 0xf4});  // out %al, $0x80 ; hlt
  ASSERT_TRUE(g.vcpu);
  auto exit = run_ignoring_io(*g.vcpu);
  ASSERT_EQ(tampered, 1);
  ASSERT_FALSE(exit) << "a zero-length IO instruction was accepted: " << hv::exit_name(*exit);
  EXPECT_EQ(exit.error().kind(), hv::ErrorKind::Internal) << exit.error().to_string();
  EXPECT_NE(exit.error().message().find("instruction length"), std::string::npos) << exit.error().to_string();
}

// INS moves device data into guest memory and OUTS device data out of it; the backend does both
// itself. Into read-only or unmapped memory, or out of a device address, there is no RAM to use: an
// Unsupported error that names the GPA, not a write to a ROM or data made up for the device.
TEST(MshvBackend, InsIntoReadOnlyOrUnmappedMemoryAndOutsFromADeviceAreUnsupportedNamingTheGpa) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  struct Case {
    const char* what;
    std::vector<std::uint8_t> code;
    bool in;
    const char* gpa;
  };
  const std::vector<Case> cases = {
      // mov $0x400000, %edi ; mov $0x80, %edx ; insb ; hlt  (a read-only page at 4 MiB)
      {"INS into read-only memory",
       {0xbf, 0x00, 0x00, 0x40, 0x00, 0xba, 0x80, 0x00, 0x00, 0x00, 0x6c, 0xf4},
       true,
       "0x400000"},
      // mov $0xd0000000, %edi ; mov $0x80, %edx ; insb ; hlt  (nothing mapped there)
      {"INS into unmapped memory",
       {0xbf, 0x00, 0x00, 0x00, 0xd0, 0xba, 0x80, 0x00, 0x00, 0x00, 0x6c, 0xf4},
       true,
       "0xd0000000"},
      // mov $0x2000, %esi ; mov $0x80, %edx ; outsb ; hlt — with RSI = 0xd0000000 in the intercept (below)
      {"OUTS from a device address",
       {0xbe, 0x00, 0x20, 0x00, 0x00, 0xba, 0x80, 0x00, 0x00, 0x00, 0x6e, 0xf4},
       false,
       "0xd0000000"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto simulator = hv::mshv::make_simulator();
    ASSERT_TRUE(simulator);
    // MSHV intercepts OUTS before it reads memory, so the intercept of an OUTS from a device address
    // carries that RSI. The simulator runs the guest on KVM, whose emulator reads the source first and
    // so reports an MMIO read instead; the guest therefore reads RAM and the message gets the device
    // address, as MSHV would send it.
    auto system = std::make_shared<TamperingSystem>(*simulator, [&](hv::mshv::abi::HvMessage& message) {
      namespace abi = hv::mshv::abi;
      if (c.in || message.header.message_type != abi::kMsgX64IoPortIntercept) return;
      abi::HvIoPortIntercept io{};
      std::memcpy(&io, message.payload, sizeof io);
      io.rsi = 0xd0000000;
      std::memcpy(message.payload, &io, sizeof io);
    });
    CodeGuest g = boot_code(system, c.code);
    ASSERT_TRUE(g.vcpu);
    auto rom = hv::GuestRegion::create(kRam, 0x1000);
    ASSERT_TRUE(rom);
    std::memset((*rom)->host().data(), 0x5a, 0x1000);
    ASSERT_TRUE(g.vm->map_memory(*rom, {.read_only = true}));
    hv::testing::RecordingIo io(
        [](hv::testing::Space, std::uint64_t, std::span<std::uint8_t> data) { data[0] = 0xa5; });
    auto exit = g.vcpu->run(io);
    if (c.in) {
      // The port is read first; the data has nowhere to go.
      ASSERT_EQ(io.accesses.size(), 1U);
      EXPECT_EQ(io.accesses[0].direction, hv::AccessDirection::Read);
    } else {
      EXPECT_TRUE(io.accesses.empty()) << "OUTS handed the device data it did not have";
    }
    ASSERT_FALSE(exit) << "accepted: " << hv::exit_name(*exit);
    EXPECT_EQ(exit.error().kind(), hv::ErrorKind::Unsupported) << exit.error().to_string();
    EXPECT_NE(exit.error().message().find(c.gpa), std::string::npos) << exit.error().to_string();
    EXPECT_EQ((*rom)->host()[0], 0x5a) << "the read-only page was written";
  }
}

// Rep hypercalls (GET/SET_VP_REGISTERS) say how many of their elements they completed, and every
// hypercall has a status: fewer reps than asked, or a failure status, is an error, never a partly
// filled register set taken as the whole.
TEST(MshvBackend, AHypercallThatCompletesFewerRepsOrFailsIsAnError) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  namespace abi = hv::mshv::abi;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  enum class Tamper { None, FewerReps, FailureStatus };
  Tamper tamper = Tamper::None;
  int tampered = 0;
  auto system = std::make_shared<TamperingSystem>(
      *simulator, [](abi::HvMessage&) {},
      [&](abi::RootHvcall& call) {
        if (call.code != abi::kHvcallGetVpRegisters && call.code != abi::kHvcallSetVpRegisters) return;
        if (tamper == Tamper::FewerReps && call.reps > 0) {
          --call.reps;
          ++tampered;
        } else if (tamper == Tamper::FailureStatus) {
          call.status = abi::kHvStatusInvalidParameter;
          call.reps = 0;
          ++tampered;
        }
      });
  CodeGuest g = boot_code(system, {0xf4});
  ASSERT_TRUE(g.vcpu);
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs) << regs.error().to_string();

  tamper = Tamper::FewerReps;
  auto short_get = g.vcpu->get_registers();
  ASSERT_FALSE(short_get) << "a register set with one register missing was returned";
  EXPECT_EQ(short_get.error().kind(), hv::ErrorKind::Internal) << short_get.error().to_string();
  auto short_set = g.vcpu->set_registers(*regs);
  ASSERT_FALSE(short_set) << "a register write that stopped early looked complete";
  EXPECT_EQ(short_set.error().kind(), hv::ErrorKind::Internal) << short_set.error().to_string();

  tamper = Tamper::FailureStatus;
  const auto expect_status = [](const hv::Error& e) {
    EXPECT_EQ(e.kind(), hv::ErrorKind::HypervisorError) << e.to_string();
    EXPECT_EQ(e.hypervisor_status(), std::optional<std::uint64_t>(abi::kHvStatusInvalidParameter)) << e.to_string();
  };
  auto failed_get = g.vcpu->get_registers();
  ASSERT_FALSE(failed_get) << "a failed hypercall looked successful";
  expect_status(failed_get.error());
  auto failed_set = g.vcpu->set_registers(*regs);
  ASSERT_FALSE(failed_set) << "a failed hypercall looked successful";
  expect_status(failed_set.error());
  EXPECT_EQ(tampered, 4);

  tamper = Tamper::None;
  EXPECT_TRUE(g.vcpu->get_registers());
}

// ---- What upstream users of MSHV do (issue 20; docs/mshv.md) -----------------------------------------

// HLT: the hypervisor has completed it, and mshv-sim says so as the header's RIP (the VP's, past the HLT).
// The backend leaves RIP alone, as every upstream VMM does: each HLT is one HaltExit and RIP moves by one.
TEST(MshvUpstream, HaltLeavesRipWhereTheHypervisorPutIt) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  CodeGuest g = boot_code(*simulator, {0xf4, 0xf4, 0xf4});  // hlt ; hlt ; hlt
  ASSERT_TRUE(g.vcpu);
  for (std::uint64_t n = 1; n <= 2; ++n) {
    SCOPED_TRACE(n);
    auto exit = run_ignoring_io(*g.vcpu);
    ASSERT_TRUE(exit) << exit.error().to_string();
    EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
    auto regs = g.vcpu->get_registers();
    ASSERT_TRUE(regs);
    EXPECT_EQ(regs->rip, 0x1000 + n) << "RIP moved past the HLT a second time";
  }
}

// An MMIO store at 0xd0000000 (from kMmioStore): the message carries the hypervisor's GVA -> GPA, so the
// backend emulates it without a single TRANSLATE_VIRTUAL_ADDRESS, and the translations it does make
// never ask for PRIVILEGE_EXEMPT.
TEST(MshvUpstream, AnMmioExitUsesTheMessagesTranslationAndNoHypercall) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  int valid = 0;
  auto system = std::make_shared<TamperingSystem>(*simulator, [&](hv::mshv::abi::HvMessage& message) {
    namespace abi = hv::mshv::abi;
    if (message.header.message_type != abi::kMsgUnmappedGpa) return;
    abi::HvMemoryIntercept m{};
    std::memcpy(&m, message.payload, sizeof m);
    if ((m.memory_access_info & abi::kMemoryAccessGvaGpaValid) != 0 && m.guest_virtual_address == 0xd0000000U) ++valid;
  });
  CodeGuest g = boot_code(system, kMmioStore);
  ASSERT_TRUE(g.vcpu);
  system->translations = 0;
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(valid, 1) << "mshv-sim did not report the GVA of the store";
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_TRUE(io.accesses[0].is(hv::testing::Space::Mmio, 0xd0000000U, hv::AccessDirection::Write));
  EXPECT_EQ(system->translations, 0) << "translated an address the message had already translated";

  // Without the message's translation (cleared below), the backend translates, with VALIDATE_* only.
  auto again = hv::mshv::make_simulator();
  ASSERT_TRUE(again);
  auto stripped = std::make_shared<TamperingSystem>(*again, [](hv::mshv::abi::HvMessage& message) {
    namespace abi = hv::mshv::abi;
    if (message.header.message_type != abi::kMsgUnmappedGpa) return;
    abi::HvMemoryIntercept m{};
    std::memcpy(&m, message.payload, sizeof m);
    m.memory_access_info = 0;
    std::memcpy(message.payload, &m, sizeof m);
  });
  CodeGuest h = boot_code(stripped, kMmioStore);
  ASSERT_TRUE(h.vcpu);
  stripped->translations = 0;
  hv::testing::RecordingIo io2;
  auto exit2 = h.vcpu->run(io2);
  ASSERT_TRUE(exit2) << exit2.error().to_string();
  EXPECT_EQ(stripped->translations, 1);
  EXPECT_EQ(stripped->translate_flags, hv::mshv::abi::kTranslateValidateWrite)
      << "flags other than VALIDATE_WRITE (PRIVILEGE_EXEMPT?) for a store";
}

// A store through a guest-virtual address whose page the guest maps to a device page elsewhere
// (virtual 0xd0000000 -> physical 0xe0000000), without the message's GVA -> GPA: the validated
// translation is not SUCCESS (a device page), and mshv-sim, like the TLFS, promises no GpaPage then
// (it writes kSimUnpromisedGpaPage). The device access goes to the GPA of the guest's own page tables.
TEST(MshvUpstream, ADevicePageIsTranslatedThroughTheGuestsPageTablesNotTheUnpromisedGpaPage) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  namespace abi = hv::mshv::abi;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  int stripped = 0;
  auto system = std::make_shared<TamperingSystem>(*simulator, [&](abi::HvMessage& message) {
    if (message.header.message_type != abi::kMsgUnmappedGpa) return;
    abi::HvMemoryIntercept m{};
    std::memcpy(&m, message.payload, sizeof m);
    EXPECT_EQ(m.guest_physical_address, 0xe0000000U);
    m.memory_access_info = 0;
    std::memcpy(message.payload, &m, sizeof m);
    ++stripped;
  });
  CodeGuest g = boot_code(system, kMmioStore);
  ASSERT_TRUE(g.vcpu);
  // Our own tables at 0x300000: 2 MiB identity at 0 (code, stack) and 0xd0000000 -> 0xe0000000.
  std::uint8_t* ram = g.ram->host().data();
  const auto entry = [&](std::uint64_t table, std::uint64_t index, std::uint64_t value) {
    std::memcpy(ram + table + index * 8, &value, sizeof value);
  };
  entry(0x300000, 0, 0x301000 | 3);
  entry(0x301000, 0, 0x302000 | 3);
  entry(0x302000, 0, 0x000000 | 0x83);
  entry(0x301000, 3, 0x303000 | 3);
  entry(0x303000, (0xd0000000U >> 21) & 0x1ff, 0xe0000000U | 0x83);
  auto sregs = g.vcpu->get_special_registers();
  ASSERT_TRUE(sregs);
  sregs->cr3 = 0x300000;
  ASSERT_TRUE(g.vcpu->set_special_registers(*sregs));
  system->translations = 0;
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(stripped, 1);
  EXPECT_EQ(system->translations, 1);
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_TRUE(io.accesses[0].is(hv::testing::Space::Mmio, 0xe0000000U, hv::AccessDirection::Write))
      << "the device access went to " << std::hex << io.accesses[0].address;
}

// A memory intercept with "interruption pending" in its execution state: the access was the event
// delivery's, not the instruction's at RIP. Emulating that instruction would make a device access the
// guest never made; the backend makes none and reports the GPA.
TEST(MshvUpstream, AnInterceptDuringEventDeliveryIsNotEmulated) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  namespace abi = hv::mshv::abi;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  // mshv-sim's fault injection sets the bit in the message it builds; the test only checks it arrived.
  int pending = 0;
  auto system = std::make_shared<TamperingSystem>(*simulator, [&](abi::HvMessage& message) {
    if (message.header.message_type != abi::kMsgUnmappedGpa) return;
    abi::HvMemoryIntercept m{};
    std::memcpy(&m, message.payload, sizeof m);
    if ((m.header.execution_state & abi::kExecStateInterruptionPending) != 0) ++pending;
  });
  CodeGuest g = boot_code(system, kMmioStore);
  ASSERT_TRUE(g.vcpu);
  ASSERT_TRUE(hv::mshv::sim_inject_interruption_pending(**simulator));
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_FALSE(exit) << "accepted: " << hv::exit_name(*exit);
  EXPECT_EQ(exit.error().kind(), hv::ErrorKind::Unsupported) << exit.error().to_string();
  EXPECT_NE(exit.error().message().find("0xd0000000"), std::string::npos) << exit.error().to_string();
  EXPECT_TRUE(io.accesses.empty()) << "the instruction at RIP was emulated";
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, kStoreRip) << "RIP moved past an instruction that did not run";
  EXPECT_EQ(pending, 1);
  // The injection marks one intercept: run again, the same store is an ordinary MMIO write.
  auto again = g.vcpu->run(io);
  ASSERT_TRUE(again) << again.error().to_string();
  ASSERT_EQ(io.accesses.size(), 1U);
  EXPECT_TRUE(io.accesses[0].is(hv::testing::Space::Mmio, 0xd0000000U, hv::AccessDirection::Write));
  EXPECT_EQ(pending, 1);
  // Only a simulator injects faults.
  EXPECT_FALSE(hv::mshv::sim_inject_interruption_pending(*system));
}

// Hyper-V has no "unusable" bit: the backend reads it as 0 and drops it on write, as rust-vmm
// mshv-ioctls and QEMU do. A present segment marked unusable stays present; a not-present one does not
// read back as unusable.
TEST(MshvUpstream, SegmentUnusableIsIgnoredBothWays) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  CodeGuest g = boot_code(*simulator, {0xf4});
  ASSERT_TRUE(g.vcpu);
  auto sregs = g.vcpu->get_special_registers();
  ASSERT_TRUE(sregs);
  sregs->fs.present = true;
  sregs->fs.unusable = true;
  sregs->gs.present = false;
  sregs->gs.unusable = false;
  ASSERT_TRUE(g.vcpu->set_special_registers(*sregs));
  auto back = g.vcpu->get_special_registers();
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->fs.present) << "unusable turned a present segment into a not-present one";
  EXPECT_FALSE(back->fs.unusable);
  EXPECT_FALSE(back->gs.present);
  EXPECT_FALSE(back->gs.unusable) << "a bit Hyper-V does not have was reported";
}

// A kick that arrives while the vCPU's thread is outside run() (here: in its own nanosleep) must not
// interrupt that thread's system calls; it stays pending and ends the next run().
TEST(MshvBackend, AKickOutsideRunDoesNotInterruptTheThreadsOwnSyscalls) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto simulator = hv::mshv::make_simulator();
  ASSERT_TRUE(simulator);
  CodeGuest g = boot_code(*simulator, {0xf4, 0xeb, 0xfe});  // hlt ; jmp .
  ASSERT_TRUE(g.vcpu);
  std::promise<void> sleeping;
  auto worker = std::async(std::launch::async, [&] {
    auto first = run_ignoring_io(*g.vcpu);  // the thread has been inside run(): the resender knows it
    EXPECT_TRUE(first && std::holds_alternative<hv::HaltExit>(*first));
    sleeping.set_value();
    timespec nap{.tv_sec = 0, .tv_nsec = 300'000'000};
    const int slept = ::nanosleep(&nap, nullptr);
    const int err = errno;
    auto second = run_ignoring_io(*g.vcpu);  // the kick made during the nap ends this run at once
    return std::make_tuple(slept, err, std::move(second));
  });
  sleeping.get_future().wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  g.vcpu->kick();
  ASSERT_EQ(worker.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto [slept, err, second] = worker.get();
  EXPECT_EQ(slept, 0) << "nanosleep was interrupted (errno " << err << ")";
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(std::holds_alternative<hv::InterruptedExit>(*second)) << hv::exit_name(*second);
}

extern "C" void foreign_sigrtmin1_handler(int) {}

// hvkit does not take SIGRTMIN+1 from a VMM that already handles it.
TEST(MshvKickSignal, RefusesToReplaceAForeignSigrtminPlus1Handler) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  // The kick handler is installed once per process, so check in a fresh process: "threadsafe" runs the
  // child from exec, so vCPUs that earlier tests of this process made have not installed it there.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction action {};
        action.sa_handler = foreign_sigrtmin1_handler;
        ::sigaction(SIGRTMIN + 1, &action, nullptr);
        auto simulator = hv::mshv::make_simulator();
        auto h = hv::mshv::open(*simulator, "mshv-sim");
        auto vm = (*h)->create_vm();
        auto vcpu = (*vm)->create_vcpu(0);
        struct sigaction after {};
        ::sigaction(SIGRTMIN + 1, nullptr, &after);
        const bool kept = after.sa_handler == foreign_sigrtmin1_handler;
        std::_Exit(!vcpu && vcpu.error().kind() == hv::ErrorKind::Busy && kept ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(MshvPartitionMemory, WritesTheBackendMakesAreLoggedWhileLogging) {
  hv::mshv::detail::PartitionMemory memory;
  auto region = hv::GuestRegion::create(0x10000, 0x10000);  // 16 pages
  ASSERT_TRUE(region);
  memory.add(7, *region, true);
  const std::uint8_t bytes[4] = {1, 2, 3, 4};
  ASSERT_TRUE(memory.write(0x10000 + 0x2000, bytes));  // not logging yet
  EXPECT_TRUE(memory.take_dirty(7).empty());
  memory.set_logging(7, true);
  ASSERT_TRUE(memory.write(0x10000 + 0x3ffe, bytes));  // straddles pages 3 and 4
  ASSERT_TRUE(memory.write(0x10000 + 0xf000, std::span(bytes, 1)));
  auto dirty = memory.take_dirty(7);
  ASSERT_EQ(dirty.size(), 1U);
  EXPECT_EQ(dirty[0], (1ULL << 3) | (1ULL << 4) | (1ULL << 15));
  EXPECT_EQ(memory.take_dirty(7)[0], 0U);      // taking clears
  EXPECT_FALSE(memory.write(0x30000, bytes));  // outside every region: refused, nothing logged
}

// VmOptions::kick_signal on mshv-sim: with SIGRTMIN + 1 (the MSHV default) taken by a foreign
// handler, a VM that chose SIGRTMIN + 5 still gets vCPUs, and its kick() interrupts a running guest.
std::unique_ptr<hv::Hypervisor> open_simulator() {
  auto system = hv::mshv::make_simulator();
  if (!system) return nullptr;
  auto h = hv::mshv::open(*system, "mshv-sim");
  return h ? std::move(*h) : nullptr;
}

TEST(MshvKickSignal, AChosenSignalKicksARunningGuest) {
  if (!open_simulator()) GTEST_SKIP() << "mshv-sim unavailable (no KVM)";
  EXPECT_EXIT(
      {
        hvtest::install_foreign_handler(SIGRTMIN + 1);
        auto h = open_simulator();
        std::_Exit(h ? hvtest::kick_spinning_guest(*h, {.kick_signal = SIGRTMIN + 5}) : 2);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(MshvKickSignal, RefusesAForeignHandlerOnTheChosenSignal) {
  if (!open_simulator()) GTEST_SKIP() << "mshv-sim unavailable (no KVM)";
  EXPECT_EXIT(
      {
        auto h = open_simulator();
        std::_Exit(h ? hvtest::refuses_foreign_handler(*h, SIGRTMIN + 6) : 2);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(MshvKickSignal, OnlyRealTimeSignalsAreAccepted) {
  auto h = open_simulator();
  if (!h) GTEST_SKIP() << "mshv-sim unavailable (no KVM)";
  EXPECT_TRUE(hvtest::only_real_time_signals_accepted(*h));
}

}  // namespace
