// The MSHV backend's partition-level duties against the simulator, where upstream users showed what
// a real Hyper-V root partition needs (docs/mshv.md names the upstream source for each): the setup
// order and flags; dirty tracking that can be turned off (every page set dirty first), failing without
// losing a slot, and exact from the first fetch; CPUID results that never clear the hypervisor's bits;
// an MSI to a software-disabled LAPIC dropped as KVM drops it; irqfd routes to an APIC id without a
// vCPU refused. A recording MshvSystem between the backend and the simulator shows the calls made, and
// can refuse one to show what a failure leaves behind.
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "hv/event_fd.hpp"
#include "hv/guest_memory.hpp"
#include "hv/kvm/kvm.hpp"
#include "hv/mshv/mshv.hpp"
#include "hv/mshv/simulator.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"
#include "mshv_abi.hpp"

namespace {

namespace abi = hv::mshv::abi;

// One call the backend made, with what the tests look at.
struct Call {
  std::uint32_t request = 0;
  std::uint64_t pt_flags = 0;   // CREATE_PARTITION
  std::uint16_t hvcall = 0;     // ROOT_HVCALL
  std::uint32_t property = 0;   // SET_PARTITION_PROPERTY
  std::uint64_t value = 0;      // SET_PARTITION_PROPERTY
  std::uint8_t gpap_op = 0xff;  // GET_GPAP_ACCESS_BITMAP
  std::uint8_t mem_flags = 0;   // SET_GUEST_MEMORY
};

class Recorder final : public hv::mshv::MshvSystem {
 public:
  explicit Recorder(std::shared_ptr<hv::mshv::MshvSystem> inner) : inner_(std::move(inner)) {}
  int open_device() noexcept override { return inner_->open_device(); }
  void close(int fd) noexcept override { inner_->close(fd); }
  hv::mshv::PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override {
    return inner_->map_vp_page(vp_fd, page_offset);
  }
  [[nodiscard]] std::string describe() const override { return inner_->describe(); }

  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    Call c{.request = request};
    if (request == abi::kCreatePartition) {
      abi::CreatePartition a{};
      std::memcpy(&a, arg, sizeof a);
      c.pt_flags = a.pt_flags;
    } else if (request == abi::kGetGpapAccessBitmap) {
      abi::GpapAccessBitmap a{};
      std::memcpy(&a, arg, sizeof a);
      c.gpap_op = a.access_op;
    } else if (request == abi::kSetGuestMemory) {
      abi::UserMemRegion a{};
      std::memcpy(&a, arg, sizeof a);
      c.mem_flags = a.flags;
    } else if (request == abi::kRootHvcall) {
      abi::RootHvcall a{};
      std::memcpy(&a, arg, sizeof a);
      c.hvcall = a.code;
      if (a.code == abi::kHvcallSetPartitionProperty) {
        abi::HvInputSetPartitionProperty in{};
        std::memcpy(&in, reinterpret_cast<const void*>(a.in_ptr), sizeof in);  // NOLINT: the ABI's address field
        c.property = in.property_code;
        c.value = in.property_value;
      }
    }
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(c);
      if (refuse_ && refuse_(c)) {
        if (!refuse_always_) refuse_ = nullptr;  // once
        return -EIO;
      }
    }
    return inner_->ioctl(fd, request, arg);
  }

  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }
  // The next call `match` selects fails with EIO without reaching the simulator.
  void refuse_next(std::function<bool(const Call&)> match) {
    std::lock_guard lock(mutex_);
    refuse_ = std::move(match);
    refuse_always_ = false;
  }
  // Every call `match` selects fails with EIO until refuse_next() or refuse_every() replaces it.
  void refuse_every(std::function<bool(const Call&)> match) {
    std::lock_guard lock(mutex_);
    refuse_ = std::move(match);
    refuse_always_ = true;
  }

 private:
  std::shared_ptr<hv::mshv::MshvSystem> inner_;
  std::mutex mutex_;
  std::vector<Call> calls_;
  std::function<bool(const Call&)> refuse_;
  bool refuse_always_ = false;
};

bool have_kvm() { return hv::mshv::probe_simulator().available; }

struct SimVm {
  std::shared_ptr<Recorder> recorder;
  std::unique_ptr<hv::Hypervisor> hypervisor;
  std::unique_ptr<hv::Vm> vm;
};

SimVm open_vm(hv::VmOptions options = {}) {
  SimVm s;
  auto sim = hv::mshv::make_simulator();
  EXPECT_TRUE(sim) << sim.error().to_string();
  if (!sim) return s;
  s.recorder = std::make_shared<Recorder>(*sim);
  auto h = hv::mshv::open(s.recorder, "mshv-sim");
  EXPECT_TRUE(h);
  if (!h) return s;
  s.hypervisor = std::move(*h);
  auto vm = s.hypervisor->create_vm(options);
  EXPECT_TRUE(vm) << vm.error().to_string();
  if (vm) s.vm = std::move(*vm);
  return s;
}

std::ptrdiff_t index_of(const std::vector<Call>& calls, const std::function<bool(const Call&)>& match) {
  auto it = std::find_if(calls.begin(), calls.end(), match);
  return it == calls.end() ? -1 : it - calls.begin();
}

bool is_property(const Call& c, std::uint32_t property, std::uint64_t value) {
  return c.request == abi::kRootHvcall && c.hvcall == abi::kHvcallSetPartitionProperty && c.property == property &&
         c.value == value;
}
bool is_tracking_off(const Call& c) { return is_property(c, abi::kPropertyGpaPageAccessTracking, 0); }
bool is_unmap(const Call& c) {
  return c.request == abi::kSetGuestMemory && (c.mem_flags & (1U << abi::kSetMemBitUnmap)) != 0;
}

// ---- Partition setup ----------------------------------------------------------------------------------

// SYNTHETIC_PROC_FEATURES (off) before INITIALIZE, UNIMPLEMENTED_MSR_ACTION = ignore-write-read-zero after
// it, GPA super pages requested at creation -- the order Cloud Hypervisor follows, which the simulator
// enforces (an early property after INITIALIZE is refused, the MSR action before it too).
TEST(MshvPartitionSetup, EarlyPropertyBeforeInitializeMsrActionAfterAndSuperPages) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  for (bool irqchip : {false, true}) {
    SimVm s = open_vm({.in_kernel_irqchip = irqchip});
    ASSERT_TRUE(s.vm);
    const auto calls = s.recorder->calls();
    const auto create = index_of(calls, [](const Call& c) { return c.request == abi::kCreatePartition; });
    ASSERT_GE(create, 0);
    EXPECT_NE(calls[create].pt_flags & (1ULL << abi::kPtBitGpaSuperPages), 0U) << "GPA super pages not requested";
    EXPECT_EQ((calls[create].pt_flags & (1ULL << abi::kPtBitLapic)) != 0, irqchip);
    const auto features =
        index_of(calls, [](const Call& c) { return is_property(c, abi::kPropertySyntheticProcFeatures, 0); });
    const auto init = index_of(calls, [](const Call& c) { return c.request == abi::kInitializePartition; });
    const auto msr = index_of(calls, [](const Call& c) {
      return is_property(c, abi::kPropertyUnimplementedMsrAction, abi::kUnimplementedMsrActionIgnoreWriteReadZero);
    });
    ASSERT_GE(features, 0) << "SYNTHETIC_PROC_FEATURES never set";
    ASSERT_GE(init, 0);
    ASSERT_GE(msr, 0) << "UNIMPLEMENTED_MSR_ACTION never set";
    EXPECT_LT(create, features);
    EXPECT_LT(features, init);
    EXPECT_LT(init, msr);
  }
}

// ---- Dirty tracking -----------------------------------------------------------------------------------

constexpr std::uint64_t kLogged = 0x800000;
constexpr std::uint64_t kLoggedSize = 16 * hv::kPageSize;

struct LoggedVm {
  SimVm s;
  std::shared_ptr<hv::GuestRegion> other;  // a writable slot that is never logged
  std::shared_ptr<hv::GuestRegion> logged;
  hv::MemorySlot slot{};
};

LoggedVm logged_vm() {
  LoggedVm v;
  v.s = open_vm();
  if (!v.s.vm) return v;
  auto other = hv::GuestRegion::create(0, 0x10000);
  auto logged = hv::GuestRegion::create(kLogged, kLoggedSize);
  EXPECT_TRUE(other && logged);
  if (!other || !logged) return v;
  v.other = *other;
  v.logged = *logged;
  EXPECT_TRUE(v.s.vm->map_memory(v.other));
  auto slot = v.s.vm->map_memory(v.logged, {.log_dirty = true});
  EXPECT_TRUE(slot) << slot.error().to_string();
  if (slot) v.slot = *slot;
  return v;
}

// The hypervisor reports every page dirty in the first bitmap after tracking is turned on (Hyperlight
// issue #689; the simulator does the same): the backend clears it on enabling, so the first fetch is exact.
TEST(MshvDirtyLog, TheFirstFetchAfterEnablingReportsNothingTheGuestDidNotWrite) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  auto first = v.s.vm->fetch_and_clear_dirty_log(v.slot);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_TRUE(first->dirty_addresses().empty()) << first->dirty_addresses().size() << " pages reported dirty";
  // Logging a second slot while tracking is already on starts that slot empty too.
  auto late = hv::GuestRegion::create(0x900000, 4 * hv::kPageSize);
  ASSERT_TRUE(late);
  auto late_slot = v.s.vm->map_memory(*late);
  ASSERT_TRUE(late_slot);
  ASSERT_TRUE(v.s.vm->enable_dirty_log(*late_slot));
  auto late_first = v.s.vm->fetch_and_clear_dirty_log(*late_slot);
  ASSERT_TRUE(late_first) << late_first.error().to_string();
  EXPECT_TRUE(late_first->dirty_addresses().empty());
}

// Turning tracking off sets every page of every writable slot dirty first (GPAP op SET): the
// hypervisor refuses otherwise, and so does the simulator.
TEST(MshvDirtyLog, DisablingSetsEveryWritableSlotDirtyBeforeTurningTrackingOff) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  ASSERT_TRUE(v.s.vm->fetch_and_clear_dirty_log(v.slot));  // every page clean now
  v.s.recorder->clear();
  auto off = v.s.vm->disable_dirty_log(v.slot);
  ASSERT_TRUE(off) << off.error().to_string();
  const auto calls = v.s.recorder->calls();
  const auto tracking_off = index_of(calls, is_tracking_off);
  ASSERT_GE(tracking_off, 0);
  const auto sets = std::count_if(calls.begin(), calls.begin() + tracking_off, [](const Call& c) {
    return c.request == abi::kGetGpapAccessBitmap && c.gpap_op == abi::kGpapAccessOpSet;
  });
  EXPECT_EQ(sets, 2) << "one SET per writable slot (the logged one and the other) before tracking goes off";
  // Tracking can be turned on again, and is exact again.
  ASSERT_TRUE(v.s.vm->enable_dirty_log(v.slot));
  auto again = v.s.vm->fetch_and_clear_dirty_log(v.slot);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->dirty_addresses().empty());
}

// A refusal to turn tracking off leaves the slot logged, its log still fetchable; the next try works.
TEST(MshvDirtyLog, ARefusedDisableLeavesTheSlotLogged) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  v.s.recorder->refuse_next(is_tracking_off);
  EXPECT_FALSE(v.s.vm->disable_dirty_log(v.slot));
  auto still = v.s.vm->fetch_and_clear_dirty_log(v.slot);
  EXPECT_TRUE(still) << "the slot is no longer logged after a failed disable: " << still.error().to_string();
  auto off = v.s.vm->disable_dirty_log(v.slot);
  EXPECT_TRUE(off) << off.error().to_string();
}

// Unmapping the last logged slot turns tracking off (SET first) before the unmap: it succeeds, and when
// turning tracking off is refused, the slot is still mapped and logged (not unmapped with tracking on).
TEST(MshvDirtyLog, UnmappingTheLastLoggedSlotTurnsTrackingOffFirstAndLosesNothingOnFailure) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  ASSERT_TRUE(v.s.vm->fetch_and_clear_dirty_log(v.slot));
  v.s.recorder->refuse_next(is_tracking_off);
  EXPECT_FALSE(v.s.vm->unmap_memory(v.slot));
  EXPECT_TRUE(v.s.vm->fetch_and_clear_dirty_log(v.slot)) << "a failed unmap lost the slot or its log";
  v.s.recorder->clear();
  auto unmapped = v.s.vm->unmap_memory(v.slot);
  ASSERT_TRUE(unmapped) << unmapped.error().to_string();
  const auto calls = v.s.recorder->calls();
  const auto off = index_of(calls, is_tracking_off);
  const auto unmap = index_of(calls, is_unmap);
  ASSERT_GE(off, 0);
  ASSERT_GE(unmap, 0);
  EXPECT_LT(off, unmap);
  // Tracking is off: a new logged slot turns it on again and starts exact.
  auto fresh = hv::GuestRegion::create(kLogged, kLoggedSize);
  ASSERT_TRUE(fresh);
  auto slot = v.s.vm->map_memory(*fresh, {.log_dirty = true});
  ASSERT_TRUE(slot) << slot.error().to_string();
  auto log = v.s.vm->fetch_and_clear_dirty_log(*slot);
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->dirty_addresses().empty());
}

// A logged read-only slot: its fetch never clears the hypervisor's bits (the guest cannot write it), so
// turning tracking off needs nothing from it, and the log reports nothing.
TEST(MshvDirtyLog, AReadOnlyLoggedSlotFetchesEmptyAndTrackingStillTurnsOff) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  auto rom = hv::GuestRegion::create(0xa00000, 4 * hv::kPageSize);
  ASSERT_TRUE(rom);
  auto rom_slot = v.s.vm->map_memory(*rom, {.read_only = true});
  ASSERT_TRUE(rom_slot) << rom_slot.error().to_string();
  auto on = v.s.vm->enable_dirty_log(*rom_slot);
  ASSERT_TRUE(on) << on.error().to_string();
  v.s.recorder->clear();
  auto log = v.s.vm->fetch_and_clear_dirty_log(*rom_slot);
  ASSERT_TRUE(log) << log.error().to_string();
  EXPECT_TRUE(log->dirty_addresses().empty());
  const auto calls = v.s.recorder->calls();
  EXPECT_EQ(index_of(calls, [](const Call& c) { return c.request == abi::kGetGpapAccessBitmap; }), -1)
      << "the read-only slot's bits were cleared in the hypervisor";
  ASSERT_TRUE(v.s.vm->disable_dirty_log(*rom_slot));
  auto off = v.s.vm->disable_dirty_log(v.slot);
  EXPECT_TRUE(off) << off.error().to_string();
}

// An unmap that fails after tracking went off, and tracking that cannot be turned back on: the slot
// stays mapped and logged, but its log is refused (the hypervisor kept none) instead of reading clean.
TEST(MshvDirtyLog, AFetchAfterAFailedUnmapWithTrackingOffIsRefused) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  LoggedVm v = logged_vm();
  ASSERT_TRUE(v.logged);
  v.s.recorder->refuse_every(
      [](const Call& c) { return is_unmap(c) || is_property(c, abi::kPropertyGpaPageAccessTracking, 1); });
  EXPECT_FALSE(v.s.vm->unmap_memory(v.slot));
  auto log = v.s.vm->fetch_and_clear_dirty_log(v.slot);
  ASSERT_FALSE(log) << "a log was fetched with tracking off";
  EXPECT_NE(log.error().to_string().find("dirty tracking is off"), std::string::npos) << log.error().to_string();
  // Stopping and restarting the slot's log recovers.
  v.s.recorder->refuse_next([](const Call&) { return false; });
  ASSERT_TRUE(v.s.vm->disable_dirty_log(v.slot));
  ASSERT_TRUE(v.s.vm->enable_dirty_log(v.slot));
  auto again = v.s.vm->fetch_and_clear_dirty_log(v.slot);
  EXPECT_TRUE(again) << again.error().to_string();
}

// ---- A guest --------------------------------------------------------------------------------------------

constexpr std::uint64_t kRam = 0x400000;
constexpr std::uint64_t kTables = 0x380000;

struct Guest {
  SimVm s;
  std::shared_ptr<hv::GuestRegion> ram;
  std::unique_ptr<hv::Vcpu> vcpu;
};

Guest boot(const std::vector<std::uint8_t>& code, hv::VmOptions options = {}) {
  Guest g;
  g.s = open_vm(options);
  if (!g.s.vm) return g;
  auto ram = hv::GuestRegion::create(0, kRam);
  EXPECT_TRUE(ram);
  if (!ram) return g;
  g.ram = *ram;
  std::memcpy(g.ram->host().data() + 0x1000, code.data(), code.size());
  EXPECT_TRUE(g.s.vm->map_memory(g.ram));
  auto vcpu = g.s.vm->create_vcpu(0);
  EXPECT_TRUE(vcpu);
  if (!vcpu) return g;
  g.vcpu = std::move(*vcpu);
  hv::GuestMemory memory;
  EXPECT_TRUE(memory.add_region(g.ram));
  EXPECT_TRUE(hv::x86::enter_long_mode(memory, *g.vcpu, kTables, 0x1000, 0x8000));
  return g;
}

// A CPUID leaf the VMM registers with a bit clear that the hypervisor sets keeps the hypervisor's bit:
// each mask is the value (rust-vmm mshv-ioctls, QEMU). The simulated hypervisor's own CPUID is KVM's.
// Leaf 1 EBX bits 23:8 (CLFLUSH line size, logical processor count): on this host (KVM on PVM) the
// guest's leaf-1 ECX/EDX are not the table's, EBX is.
TEST(MshvCpuid, ARegisteredLeafNeverClearsABitTheHypervisorSets) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  auto kvm = hv::kvm::open();
  ASSERT_TRUE(kvm);
  auto supported = (*kvm)->supported_cpuid();
  ASSERT_TRUE(supported);
  auto leaf1 = std::find_if(supported->begin(), supported->end(), [](const auto& e) { return e.function == 1; });
  ASSERT_NE(leaf1, supported->end());
  const std::uint32_t theirs = leaf1->ebx & 0x00ffff00U;
  const std::uint32_t unset = ~leaf1->ebx & 0x00ffff00U;
  ASSERT_NE(theirs, 0U) << "the host's leaf 1 EBX has no bit to keep";
  ASSERT_NE(unset, 0U);
  const std::uint32_t kept = theirs & (~theirs + 1);  // lowest set bit
  const std::uint32_t added = unset & (~unset + 1);   // lowest clear bit
  // mov eax, 1 ; xor ecx, ecx ; cpuid ; hlt
  Guest g = boot({0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0xf4});
  ASSERT_TRUE(g.vcpu);
  hv::CpuidEntry mine = *leaf1;
  mine.ebx = (leaf1->ebx & ~kept) | added;  // the VMM "clears" one of the hypervisor's bits and sets another
  ASSERT_TRUE(g.vcpu->set_cpuid(std::vector{mine}));
  hv::testing::RecordingIo io;
  auto exit = g.vcpu->run(io);
  ASSERT_TRUE(exit) << exit.error().to_string();
  ASSERT_TRUE(std::holds_alternative<hv::HaltExit>(*exit)) << hv::exit_name(*exit);
  auto regs = g.vcpu->get_registers();
  ASSERT_TRUE(regs);
  EXPECT_NE(regs->rbx & kept, 0U) << "the registered result cleared the hypervisor's bit " << kept << ": EBX "
                                  << regs->rbx;
  EXPECT_NE(regs->rbx & added, 0U) << "a bit the VMM set did not reach the guest: EBX " << regs->rbx;
}

// ---- Interrupts -------------------------------------------------------------------------------------------

// A new vCPU's LAPIC is software-disabled; ASSERT_VIRTUAL_INTERRUPT to it fails on MSHV (Hyperlight),
// and in the simulator. KVM drops such an MSI and reports success: so does the backend.
TEST(MshvInterrupts, AnMsiToASoftwareDisabledLapicIsDroppedAsOnKvm) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  SimVm s = open_vm({.in_kernel_irqchip = true});
  ASSERT_TRUE(s.vm);
  auto vcpu = s.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  s.recorder->clear();
  auto r = s.vm->signal_msi({.address = 0xfee00000, .data = 0x30});
  EXPECT_TRUE(r) << r.error().to_string();
  const auto calls = s.recorder->calls();
  EXPECT_GE(index_of(calls, [](const Call& c) { return c.hvcall == abi::kHvcallAssertVirtualInterrupt; }), 0)
      << "the interrupt was not even asserted";
  // A malformed request is still an error: an address outside the MSI window (refused before any
  // hypercall), and an INIT delivery mode the hypervisor refuses with INVALID_PARAMETER -- only the
  // disabled-LAPIC status is dropped.
  EXPECT_FALSE(s.vm->signal_msi({.address = 0x12345000, .data = 0x30}));
  auto init = s.vm->signal_msi({.address = 0xfee00000, .data = 0x500});
  ASSERT_FALSE(init) << "a refused INIT-mode MSI was reported delivered";
  EXPECT_NE(init.error().to_string().find("HVCALL_ASSERT_VIRTUAL_INTERRUPT"), std::string::npos)
      << init.error().to_string();
}

// An irqfd whose route names an APIC id with no vCPU could crash the host (Linux
// drivers/hv/mshv_eventfd.c, mshv_try_assert_irq_fast): the backend refuses to set one up, whichever
// comes second (the route or the irqfd), before the kernel sees it.
TEST(MshvInterrupts, AnIrqfdRoutedToAnApicIdWithoutAVcpuIsRefused) {
  if (!have_kvm()) GTEST_SKIP() << hv::mshv::probe_simulator().reason;
  SimVm s = open_vm({.in_kernel_irqchip = true});
  ASSERT_TRUE(s.vm);
  auto vcpu = s.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  const auto route = [](std::uint32_t gsi, std::uint32_t apic_id) {
    return hv::MsiRoute{gsi, hv::MsiMessage{0xfee00000ULL | (apic_id << 12), 0x30}};
  };
  ASSERT_TRUE(s.vm->set_gsi_routing(std::vector<hv::GsiRoute>{route(5, 3), route(6, 0)}));
  auto event5 = hv::EventFd::create();
  auto event6 = hv::EventFd::create();
  ASSERT_TRUE(event5 && event6);
  // The irqfd second: refused.
  auto bad = s.vm->register_irqfd(*event5, 5);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), hv::ErrorKind::InvalidArgument) << bad.error().to_string();
  EXPECT_NE(bad.error().to_string().find("APIC id 3, which has no vCPU"), std::string::npos) << bad.error().to_string();
  // The route second: refused, and the table stays as it was.
  ASSERT_TRUE(s.vm->register_irqfd(*event6, 6));
  auto moved = s.vm->set_gsi_routing(std::vector<hv::GsiRoute>{route(6, 7)});
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().kind(), hv::ErrorKind::InvalidArgument) << moved.error().to_string();
  EXPECT_NE(moved.error().to_string().find("APIC id 7, which has no vCPU"), std::string::npos);
  // A stray unregister (another descriptor: the kernel answers 0) does not lift the guard of the live
  // irqfd on GSI 6.
  ASSERT_TRUE(s.vm->unregister_irqfd(*event5, 6));
  auto after_stray = s.vm->set_gsi_routing(std::vector<hv::GsiRoute>{route(6, 7)});
  ASSERT_FALSE(after_stray) << "a stray unregister lifted the APIC-id guard of a live irqfd";
  EXPECT_EQ(after_stray.error().kind(), hv::ErrorKind::InvalidArgument) << after_stray.error().to_string();
  // With the vCPU there, the same route is fine; logical destinations never take the fast path.
  ASSERT_TRUE(s.vm->create_vcpu(7));
  EXPECT_TRUE(s.vm->set_gsi_routing(std::vector<hv::GsiRoute>{route(6, 7)}));
  EXPECT_TRUE(s.vm->set_gsi_routing(
      std::vector<hv::GsiRoute>{hv::MsiRoute{5, hv::MsiMessage{0xfee00000ULL | (3U << 12) | 4, 0x30}}}));
  EXPECT_TRUE(s.vm->register_irqfd(*event5, 5));
}

}  // namespace
