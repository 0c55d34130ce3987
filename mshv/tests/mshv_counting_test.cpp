// The counting MshvSystem decorator: what it counts (every ioctl by request, every MSHV_ROOT_HVCALL by
// code, failed calls too), and what one intercept costs the backend on mshv-sim. The expected counts
// are derived from the backend's code path, each explained where it is asserted; a change to that
// path (a fast path, a merged call) must change them here, with its reason.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "hv/guest_memory.hpp"
#include "hv/mshv/counting_system.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"
#include "mshv_abi.hpp"

namespace {

namespace abi = hv::mshv::abi;

// A system that answers every ioctl with `result` and writes `message_type` into RUN_VP's buffer.
class FixedSystem final : public hv::mshv::MshvSystem {
 public:
  long result = 0;
  std::uint32_t message_type = abi::kMsgX64Halt;
  int open_device() noexcept override { return 3; }
  long ioctl(int, std::uint32_t request, void* arg) noexcept override {
    if (request == abi::kRunVp && result >= 0) {
      abi::HvMessageHeader header{};
      header.message_type = message_type;
      std::memcpy(arg, &header, sizeof header);
    }
    return result;
  }
  void close(int) noexcept override {}
  hv::mshv::PageMapping map_vp_page(int, std::uint64_t) noexcept override { return {nullptr, ENODEV}; }
  [[nodiscard]] std::string describe() const override { return "fixed"; }
};

long hypercall(hv::mshv::MshvSystem& system, int fd, std::uint16_t code) {
  abi::RootHvcall call{};
  call.code = code;
  return system.ioctl(fd, abi::kRootHvcall, &call);
}

TEST(MshvCountingSystem, CountsIoctlsByRequestAndHypercallsByCodeFailedOnesToo) {
  auto inner = std::make_shared<FixedSystem>();
  hv::mshv::CountingSystem counting(inner);
  abi::CreateVp vp{};
  EXPECT_EQ(counting.ioctl(4, abi::kCreateVp, &vp), 0);
  EXPECT_EQ(hypercall(counting, 4, abi::kHvcallSetPartitionProperty), 0);
  inner->result = -EINVAL;
  EXPECT_EQ(hypercall(counting, 4, abi::kHvcallSetPartitionProperty), -EINVAL);
  EXPECT_EQ(hypercall(counting, 4, abi::kHvcallAssertVirtualInterrupt), -EINVAL);
  const auto totals = counting.totals();
  EXPECT_EQ(totals.ioctl(abi::kCreateVp), 1U);
  EXPECT_EQ(totals.ioctl(abi::kRootHvcall), 3U);
  EXPECT_EQ(totals.total_ioctls(), 4U);
  EXPECT_EQ(totals.hypercall(abi::kHvcallSetPartitionProperty), 2U);
  EXPECT_EQ(totals.hypercall(abi::kHvcallAssertVirtualInterrupt), 1U);
  EXPECT_EQ(totals.total_hypercalls(), 3U);
  EXPECT_TRUE(counting.per_intercept().empty()) << "no RUN_VP delivered anything";
  counting.reset();
  EXPECT_EQ(counting.totals().total_ioctls(), 0U);
}

// Calls on a VP descriptor are charged to the intercept its last RUN_VP delivered; calls on another
// descriptor, after an interrupted RUN_VP, or after end_intercepts() to none.
TEST(MshvCountingSystem, ChargesAVpsCallsToTheInterceptItsLastRunVpDelivered) {
  auto inner = std::make_shared<FixedSystem>();
  inner->message_type = abi::kMsgX64IoPortIntercept;
  hv::mshv::CountingSystem counting(inner);
  constexpr int kVp = 7, kPartition = 6;
  abi::RunVp message{};
  EXPECT_EQ(counting.ioctl(kVp, abi::kRunVp, &message), 0);
  EXPECT_EQ(hypercall(counting, kVp, abi::kHvcallSetVpRegisters), 0);
  EXPECT_EQ(hypercall(counting, kPartition, abi::kHvcallAssertVirtualInterrupt), 0);  // another descriptor
  inner->result = -EINTR;
  EXPECT_EQ(counting.ioctl(kVp, abi::kRunVp, &message), -EINTR);  // a kick: no message
  inner->result = 0;
  EXPECT_EQ(hypercall(counting, kVp, abi::kHvcallGetVpRegisters), 0);
  EXPECT_EQ(counting.ioctl(kVp, abi::kRunVp, &message), 0);
  counting.end_intercepts();
  EXPECT_EQ(hypercall(counting, kVp, abi::kHvcallGetVpRegisters), 0);

  const auto costs = counting.per_intercept();
  ASSERT_EQ(costs.size(), 1U);
  const auto& io = costs.at(abi::kMsgX64IoPortIntercept);
  EXPECT_EQ(io.name, "X64_IO_PORT_INTERCEPT");
  EXPECT_EQ(io.intercepts, 2U);
  EXPECT_EQ(io.calls.ioctl(abi::kRunVp), 2U) << "the interrupted RUN_VP delivered nothing";
  EXPECT_EQ(io.calls.total_hypercalls(), 1U) << "only the SET_VP_REGISTERS right after the first";
  EXPECT_EQ(io.calls.hypercall(abi::kHvcallSetVpRegisters), 1U);
  EXPECT_EQ(counting.totals().ioctl(abi::kRunVp), 3U);
  EXPECT_EQ(counting.totals().total_hypercalls(), 4U);
}

TEST(MshvCountingSystem, NamesRequestsHypercallsAndMessages) {
  EXPECT_EQ(hv::mshv::ioctl_name(abi::kRunVp), "MSHV_RUN_VP");
  EXPECT_EQ(hv::mshv::hypercall_name(abi::kHvcallTranslateVirtualAddress), "HVCALL_TRANSLATE_VIRTUAL_ADDRESS");
  EXPECT_EQ(hv::mshv::message_type_name(abi::kMsgUnmappedGpa), "UNMAPPED_GPA");
  EXPECT_EQ(hv::mshv::hypercall_name(0x7777), "0x7777");
}

// Keeps the memory-access info of the last memory intercept the simulator delivered: whether the
// message carried a GVA->GPA pair decides whether the backend must translate.
class MessageRecorder final : public hv::mshv::MshvSystem {
 public:
  explicit MessageRecorder(std::shared_ptr<hv::mshv::MshvSystem> inner) : inner_(std::move(inner)) {}
  int open_device() noexcept override { return inner_->open_device(); }
  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    const long r = inner_->ioctl(fd, request, arg);
    if (r == 0 && request == abi::kRunVp) {
      abi::HvMessage message{};
      std::memcpy(&message, arg, sizeof message);
      if (message.header.message_type == abi::kMsgUnmappedGpa || message.header.message_type == abi::kMsgGpaIntercept) {
        abi::HvMemoryIntercept m{};
        std::memcpy(&m, message.payload, sizeof m);
        memory_access_info = m.memory_access_info;
      }
    }
    return r;
  }
  void close(int fd) noexcept override { inner_->close(fd); }
  hv::mshv::PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override {
    return inner_->map_vp_page(vp_fd, page_offset);
  }
  [[nodiscard]] std::string describe() const override { return inner_->describe(); }
  std::uint8_t memory_access_info = 0;

 private:
  std::shared_ptr<hv::mshv::MshvSystem> inner_;
};

constexpr std::uint64_t kRam = 0x400000;
constexpr std::uint64_t kTables = 0x380000;

struct CountedGuest {
  std::shared_ptr<MessageRecorder> recorder;
  std::shared_ptr<hv::mshv::CountingSystem> counting;
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
  std::unique_ptr<hv::Vcpu> vcpu;
  std::shared_ptr<hv::GuestRegion> ram;
  std::uint64_t page_mappings = 0;  // map_vp_page calls during setup
};

// The VP register page as mshv-sim offers it: mapped and valid at each intercept (the backend reads
// and writes registers there), refused (ENODEV) or never valid (both: the hypercalls).
enum class RegisterPage { Valid, Refused, Invalid };
hv::mshv::SimulatorOptions options(RegisterPage page) {
  return {.register_page = page != RegisterPage::Refused, .register_page_valid = page == RegisterPage::Valid};
}
std::string name(const ::testing::TestParamInfo<RegisterPage>& info) {
  switch (info.param) {
    case RegisterPage::Valid: return "RegisterPage";
    case RegisterPage::Refused: return "NoRegisterPage";
    case RegisterPage::Invalid: return "InvalidRegisterPage";
  }
  return "unknown";
}

// `code` at 0x1000 in 64-bit mode (as a Linux guest runs), the backend over counting(recorder(mshv-sim)).
CountedGuest boot(const std::vector<std::uint8_t>& code, RegisterPage page) {
  CountedGuest g;
  auto simulator = hv::mshv::make_simulator(options(page));
  EXPECT_TRUE(simulator);
  if (!simulator) return g;
  g.recorder = std::make_shared<MessageRecorder>(*simulator);
  g.counting = std::make_shared<hv::mshv::CountingSystem>(g.recorder);
  auto h = hv::mshv::open(g.counting, "mshv-sim");
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
  for (std::uint64_t i = 0; i < 0x40000; ++i) g.ram->host()[0x100000 + i] = static_cast<std::uint8_t>(i);
  EXPECT_TRUE(g.vm->map_memory(g.ram));
  auto vcpu = g.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  if (!vcpu) return g;
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(g.ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, kTables, 0x1000, 0x8000));
  g.page_mappings = g.counting->totals().vp_page_mappings;
  g.counting->reset();  // setup is not the cost of an exit
  return g;
}

bool have_kvm() { return hv::mshv::probe_simulator().available; }

class MshvExitCost : public ::testing::TestWithParam<RegisterPage> {
 protected:
  // Register reads and writes go through the page, at no hypercall.
  [[nodiscard]] bool page() const { return GetParam() == RegisterPage::Valid; }
};

// mov edx, 0x80 ; out dx, al ; in al, dx ; mov ebx, 0xd0000000 ; mov [rbx], eax ; hlt
const std::vector<std::uint8_t> kPioAndMmio = {0xba, 0x80, 0x00, 0x00, 0x00, 0xee, 0xec, 0xbb,
                                               0x00, 0x00, 0x00, 0xd0, 0x89, 0x03, 0xf4};

TEST_P(MshvExitCost, PioAndMmioInterceptsCostWhatTheBackendsPathMakes) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  CountedGuest g = boot(kPioAndMmio, GetParam());
  ASSERT_TRUE(g.vcpu);
  // One mapping attempt per VP, at creation, whether the system grants it or not.
  EXPECT_EQ(g.page_mappings, 1U);
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  ASSERT_EQ(io.accesses.size(), 3U);
  const auto costs = g.counting->per_intercept();
  const std::uint64_t sets = page() ? 0 : 1;

  // OUT and IN: each the RUN_VP that delivered it and, without the page, one SET_VP_REGISTERS (OUT:
  // RIP; IN: RIP and RAX in the same call); with it, RIP and RAX go into the page. The message carries
  // RAX and RIP, so nothing is read.
  ASSERT_TRUE(costs.contains(abi::kMsgX64IoPortIntercept));
  const auto& pio = costs.at(abi::kMsgX64IoPortIntercept);
  EXPECT_EQ(pio.intercepts, 2U);
  EXPECT_EQ(pio.calls.ioctl(abi::kRunVp), 2U);
  EXPECT_EQ(pio.calls.hypercall(abi::kHvcallSetVpRegisters), 2 * sets);
  EXPECT_EQ(pio.calls.total_hypercalls(), 2 * sets);
  EXPECT_EQ(pio.calls.total_ioctls(), 2 + 2 * sets);

  // The store to unmapped 0xd0000000: the general registers (the message has only RIP, RFLAGS and CS;
  // 18 names fit one GET_VP_REGISTERS, or the page), no segment registers (64-bit mode, a DS operand:
  // base 0), one TRANSLATE of the store's page unless the message carried a valid GVA->GPA pair, and
  // what changed written back (RIP only: a store changes no register) in one SET or into the page.
  ASSERT_TRUE(costs.contains(abi::kMsgUnmappedGpa));
  const auto& mmio = costs.at(abi::kMsgUnmappedGpa);
  const std::uint64_t translations = (g.recorder->memory_access_info & abi::kMemoryAccessGvaGpaValid) != 0 ? 0 : 1;
  EXPECT_EQ(mmio.intercepts, 1U);
  EXPECT_EQ(mmio.calls.ioctl(abi::kRunVp), 1U);
  EXPECT_EQ(mmio.calls.hypercall(abi::kHvcallGetVpRegisters), sets);
  EXPECT_EQ(mmio.calls.hypercall(abi::kHvcallTranslateVirtualAddress), translations);
  EXPECT_EQ(mmio.calls.hypercall(abi::kHvcallSetVpRegisters), sets);
  EXPECT_EQ(mmio.calls.total_hypercalls(), 2 * sets + translations);
  EXPECT_EQ(mmio.calls.total_ioctls(), 1 + 2 * sets + translations);

  // Only the exits' calls: the HALT's are its own, and the guest made no others.
  ASSERT_TRUE(costs.contains(abi::kMsgX64Halt));
  EXPECT_EQ(costs.at(abi::kMsgX64Halt).intercepts, 1U);
  std::uint64_t charged = 0;
  for (const auto& [type, cost] : costs) charged += cost.calls.total_ioctls();
  EXPECT_EQ(charged, g.counting->totals().total_ioctls()) << "every call of run() belongs to an intercept";
  EXPECT_EQ(g.counting->totals().vp_page_mappings, 0U) << "the page is mapped once, not per exit";

  // The VMM's own call after run() is no intercept's (and with the page no call at all).
  g.counting->end_intercepts();
  ASSERT_TRUE(g.vcpu->get_registers());
  EXPECT_EQ(g.counting->totals().total_ioctls(), charged + sets);
  EXPECT_EQ(g.counting->per_intercept().at(abi::kMsgX64Halt).calls.total_ioctls(),
            costs.at(abi::kMsgX64Halt).calls.total_ioctls());
}

// mov rcx, 0x40000 ; mov rsi, 0x100000 ; mov dx, 0x80 ; rep outsb ; hlt — 256 KiB from a page-aligned
// source: 64 pages.
const std::vector<std::uint8_t> kRepOutsb = {0x48, 0xc7, 0xc1, 0x00, 0x00, 0x04, 0x00, 0x48, 0xc7, 0xc6, 0x00,
                                             0x00, 0x10, 0x00, 0x66, 0xba, 0x80, 0x00, 0xf3, 0x6e, 0xf4};

// The backend moves at most 64 KiB per intercept, so the 256 KiB take four IO intercepts (the guest
// re-executes the REP for the rest). Each: its RUN_VP, one TRANSLATE per page it touches (16, the
// translation kept for the page's 4096 elements), no segment read (64-bit mode, no override: DS base
// 0), and RSI, RCX (and RIP on the last) written in one SET_VP_REGISTERS or into the page.
TEST_P(MshvExitCost, StringIoCostsOneTranslationPerPageAndOneRegisterWritePerIntercept) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  CountedGuest g = boot(kRepOutsb, GetParam());
  ASSERT_TRUE(g.vcpu);
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  EXPECT_EQ(io.accesses.size(), 0x40000U);
  const auto costs = g.counting->per_intercept();
  ASSERT_TRUE(costs.contains(abi::kMsgX64IoPortIntercept));
  const auto& string_io = costs.at(abi::kMsgX64IoPortIntercept);
  constexpr std::uint64_t kIntercepts = 0x40000 / 0x10000, kPages = 0x40000 / 4096;
  const std::uint64_t sets = page() ? 0 : kIntercepts;
  EXPECT_EQ(string_io.intercepts, kIntercepts);
  EXPECT_EQ(string_io.calls.hypercall(abi::kHvcallTranslateVirtualAddress), kPages);
  EXPECT_EQ(string_io.calls.hypercall(abi::kHvcallSetVpRegisters), sets);
  EXPECT_EQ(string_io.calls.hypercall(abi::kHvcallGetVpRegisters), 0U);
  EXPECT_EQ(string_io.calls.total_hypercalls(), kPages + sets);
  EXPECT_EQ(string_io.calls.total_ioctls(), kPages + kIntercepts + sets);
}

INSTANTIATE_TEST_SUITE_P(Simulator, MshvExitCost,
                         ::testing::Values(RegisterPage::Valid, RegisterPage::Refused, RegisterPage::Invalid), name);

}  // namespace
