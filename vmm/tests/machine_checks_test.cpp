// The example VMM's own checks and protocols, on a scripted fake backend (no KVM needed, every exit
// chosen by the test): the vCPU loop's handling of each exit kind and of run() errors, the stop
// protocol (first reason wins, every vCPU kicked, the doorbell thread ends with the machine, doorbell
// rings coalesce), interrupt lines as the machine wires them, the layout checks of Machine::create,
// and the image loaders against read-only guest memory and their documented limits.
// docs/threat-model/vmm.md, interrupt-lines.md and image-loader.md name these tests.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "hv/dev/byte_sink.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/event_fd.hpp"
#include "hv/virtio/device.hpp"
#include "hv/virtio/rng.hpp"
#include "hv/vmm/image_loader.hpp"
#include "hv/vmm/machine.hpp"
#include "hv/x86_boot.hpp"

namespace {

using hv::vmm::Machine;
using hv::vmm::MachineConfig;
using hv::vmm::MachineExit;
using Reason = MachineExit::Reason;

// A port write the fake vCPU hands to the run's IoHandler, as a backend does for a guest's OUT.
struct PioWrite {
  std::uint16_t port = 0;
  std::uint8_t value = 0;
};
// What one fake vCPU's run() does, in order: hand port writes to the IoHandler, and return the
// first exit (or error) after them; after the script, it waits for a kick and returns
// InterruptedExit (a guest that never exits).
// One step of a script: a port write, or what run() returns. (Not a std::variant holding a Result:
// GCC 12 warns, wrongly, that moving one may read it uninitialised.)
struct ScriptStep {
  ScriptStep(hv::Result<hv::Exit> r) : result(std::move(r)) {}                   // NOLINT: implicit by design
  ScriptStep(hv::Exit e) : result(e) {}                                          // NOLINT: implicit by design
  ScriptStep(tl::unexpected<hv::Error> e) : result(std::move(e)) {}              // NOLINT: implicit by design
  ScriptStep(PioWrite w) : write(w), result(hv::Exit{hv::InterruptedExit{}}) {}  // NOLINT: implicit by design
  std::optional<PioWrite> write;
  hv::Result<hv::Exit> result;
};
struct VcpuScript {
  std::deque<ScriptStep> exits;
};

struct FakeBackendState {
  std::mutex mutex;
  std::condition_variable kicked_cv;
  std::map<std::uint32_t, VcpuScript> scripts;
  std::map<std::uint32_t, int> kicks;
  std::map<std::uint32_t, bool> kick_pending;
  std::map<std::uint32_t, std::thread::id> run_threads;
  std::vector<hv::EventFd> doorbells;                     // copies of the ioeventfds the machine registered
  std::vector<std::pair<std::uint32_t, bool>> irq_lines;  // set_irq_line calls, each refused
  bool refuse_ioeventfds = true;
};

class FakeVcpu final : public hv::Vcpu {
 public:
  FakeVcpu(std::uint32_t id, FakeBackendState& state) : id_(id), state_(state) {}
  [[nodiscard]] std::uint32_t id() const noexcept override { return id_; }

 protected:
  hv::Result<hv::Exit> run_guest(hv::IoHandler& io) override {
    std::unique_lock lock(state_.mutex);
    state_.run_threads[id_] = std::this_thread::get_id();
    auto& script = state_.scripts[id_].exits;
    while (!script.empty()) {
      auto next = std::move(script.front());
      script.pop_front();
      if (!next.write) return std::move(next.result);
      const PioWrite write = *next.write;
      lock.unlock();  // the handler may stop the machine, which kicks this vCPU
      io.pio_write(write.port, std::span(&write.value, 1));
      lock.lock();
    }
    // The backend contract: a kick before or during run() ends it with InterruptedExit.
    state_.kicked_cv.wait(lock, [&] { return state_.kick_pending[id_]; });
    state_.kick_pending[id_] = false;
    return hv::Exit{hv::InterruptedExit{}};
  }

 public:
  void kick() noexcept override {
    std::lock_guard lock(state_.mutex);
    ++state_.kicks[id_];
    state_.kick_pending[id_] = true;
    state_.kicked_cv.notify_all();
  }
  hv::Result<hv::GeneralRegisters> get_registers() const override { return hv::GeneralRegisters{}; }
  hv::Result<void> set_registers(const hv::GeneralRegisters&) override { return {}; }
  hv::Result<hv::SpecialRegisters> get_special_registers() const override { return hv::SpecialRegisters{}; }
  hv::Result<void> set_special_registers(const hv::SpecialRegisters&) override { return {}; }
  hv::Result<hv::FpuState> get_fpu() const override { return hv::FpuState{}; }
  hv::Result<void> set_fpu(const hv::FpuState&) override { return {}; }
  hv::Result<hv::XsaveArea> get_xsave() const override { return hv::XsaveArea{}; }
  hv::Result<void> set_xsave(const hv::XsaveArea&) override { return {}; }
  hv::Result<void> get_msrs(std::span<hv::MsrEntry>) const override { return {}; }
  hv::Result<void> set_msrs(std::span<const hv::MsrEntry>) override { return {}; }
  hv::Result<void> set_cpuid(std::span<const hv::CpuidEntry>) override { return {}; }
  hv::Result<std::vector<hv::CpuidEntry>> get_cpuid() const override { return std::vector<hv::CpuidEntry>{}; }
  hv::Result<hv::LapicState> get_lapic() const override { return hv::LapicState{}; }
  hv::Result<void> set_lapic(const hv::LapicState&) override { return {}; }

 private:
  std::uint32_t id_;
  FakeBackendState& state_;
};

class FakeVm final : public hv::Vm {
 public:
  explicit FakeVm(FakeBackendState& state) : state_(state) {}
  hv::Result<std::unique_ptr<hv::Vcpu>> create_vcpu(std::uint32_t id) override {
    return std::unique_ptr<hv::Vcpu>(new FakeVcpu(id, state_));
  }
  hv::Result<void> register_ioeventfd(const hv::EventFd& event, const hv::IoEventAddress&) override {
    std::lock_guard lock(state_.mutex);
    if (state_.refuse_ioeventfds) return hv::fail(hv::ErrorKind::Unsupported, "register_ioeventfd", "fake");
    auto copy = hv::EventFd::duplicate(event.fd());  // the test rings it as the hypervisor would
    if (!copy) return tl::unexpected(copy.error());
    state_.doorbells.push_back(std::move(*copy));
    return {};
  }
#define UNUSED(R, name, ...) \
  hv::Result<R> name(__VA_ARGS__) override { return hv::fail(hv::ErrorKind::Unsupported, #name, "fake VM"); }
  UNUSED(void, register_irqfd, const hv::EventFd&, std::uint32_t)
  UNUSED(void, unregister_irqfd, const hv::EventFd&, std::uint32_t)
  UNUSED(void, unregister_ioeventfd, const hv::EventFd&, const hv::IoEventAddress&)
  UNUSED(void, signal_msi, const hv::MsiMessage&)
  UNUSED(void, set_gsi_routing, std::span<const hv::GsiRoute>)
  // Refused, as MSHV refuses it (Unsupported), after recording the call.
  hv::Result<void> set_irq_line(std::uint32_t gsi, bool level) override {
    std::lock_guard lock(state_.mutex);
    state_.irq_lines.emplace_back(gsi, level);
    return hv::fail(hv::ErrorKind::Unsupported, "set_irq_line", "fake VM");
  }

 protected:
  hv::Result<hv::MemorySlot> map_region(std::shared_ptr<hv::GuestRegion>, hv::MapOptions) override {
    return hv::MemorySlot{next_slot_++};
  }
  UNUSED(void, unmap_region, hv::MemorySlot)
  UNUSED(void, start_dirty_log, hv::MemorySlot)
  UNUSED(hv::DirtyBitmap, fetch_guest_dirty_log, hv::MemorySlot)
  UNUSED(void, stop_dirty_log, hv::MemorySlot)
#undef UNUSED

 private:
  FakeBackendState& state_;
  std::uint32_t next_slot_ = 0;
};

class FakeHypervisor final : public hv::Hypervisor {
 public:
  explicit FakeHypervisor(FakeBackendState& state) : state_(state) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "fake"; }
  [[nodiscard]] std::uint32_t api_version() const noexcept override { return 0; }
  hv::Result<std::uint64_t> capability(hv::Capability) const override {
    return hv::fail(hv::ErrorKind::Unsupported, "capability", "fake");
  }
  hv::Result<std::vector<hv::CpuidEntry>> supported_cpuid() const override { return std::vector<hv::CpuidEntry>{}; }
  hv::Result<std::unique_ptr<hv::Vm>> create_vm(const hv::VmOptions&) override {
    return std::unique_ptr<hv::Vm>(new FakeVm(state_));
  }

 private:
  FakeBackendState& state_;
};

class MachineChecks : public ::testing::Test {
 protected:
  MachineConfig config(std::uint32_t vcpus = 1) {
    MachineConfig c;
    c.memory_bytes = 4ULL << 20;
    c.vcpus = vcpus;
    c.image = {0xf4};  // never executed: the fake vCPUs follow their scripts
    c.load_address = 0x1000;
    c.console = console_;
    return c;
  }
  using Step = std::variant<hv::Exit, PioWrite>;
  void script(std::uint32_t vcpu, std::initializer_list<Step> steps) {
    for (const auto& step : steps) {
      if (const auto* exit = std::get_if<hv::Exit>(&step)) {
        state_.scripts[vcpu].exits.emplace_back(*exit);
      } else {
        state_.scripts[vcpu].exits.emplace_back(std::get<PioWrite>(step));
      }
    }
  }
  std::unique_ptr<Machine> make(const MachineConfig& c) {
    auto m = Machine::create(hypervisor_, c);
    EXPECT_TRUE(m) << m.error().to_string();
    return m ? std::move(*m) : nullptr;
  }
  hv::ErrorKind refused(const MachineConfig& c) {
    auto m = Machine::create(hypervisor_, c);
    EXPECT_FALSE(m);
    return m ? hv::ErrorKind::Internal : m.error().kind();
  }
  FakeBackendState state_;
  FakeHypervisor hypervisor_{state_};
  std::shared_ptr<hv::dev::BufferSink> console_ = std::make_shared<hv::dev::BufferSink>();
};

// --- the vCPU loop -------------------------------------------------------------------------------

TEST_F(MachineChecks, ARunErrorStopsTheMachineWithTheBackendsMessage) {
  state_.scripts[0].exits.emplace_back(hv::fail(hv::ErrorKind::SystemError, "KVM_RUN", "the backend gave up"));
  auto m = make(config());
  ASSERT_TRUE(m);
  const auto exit = m->run();
  EXPECT_EQ(exit.reason, Reason::Error);
  EXPECT_EQ(exit.status, 1U);
  EXPECT_NE(exit.message.find("the backend gave up"), std::string::npos) << exit.message;
}

TEST_F(MachineChecks, AnExitTheLoopDoesNotKnowStopsTheMachineAsAnError) {
  for (const hv::Exit& unknown :
       {hv::Exit{hv::UnknownExit{"fake", 99}},
        hv::Exit{hv::InternalErrorExit{.code = 1, .detail = 2, .name = {}, .data = {}, .instruction = {}}}}) {
    FakeBackendState state;
    FakeHypervisor hypervisor(state);
    state.scripts[0].exits.emplace_back(unknown);
    auto m = Machine::create(hypervisor, config());
    ASSERT_TRUE(m) << m.error().to_string();
    const auto exit = (*m)->run();
    EXPECT_EQ(exit.reason, Reason::Error) << hv::exit_name(unknown) << ": " << exit.message;
    EXPECT_EQ(exit.status, 1U);
    EXPECT_FALSE(exit.message.empty());
  }
}

TEST_F(MachineChecks, TheMachineEndsWhenTheLastVcpuHalts) {
  script(0, {hv::HaltExit{}});
  script(1, {hv::InterruptedExit{}, hv::InterruptedExit{}, hv::HaltExit{}});
  auto m = make(config(2));
  ASSERT_TRUE(m);
  const auto exit = m->run();
  EXPECT_EQ(exit.reason, Reason::Halted) << exit.message;
  EXPECT_EQ(exit.status, 0U);
  EXPECT_TRUE(state_.scripts[1].exits.empty()) << "vCPU 1 was stopped before it halted";
}

TEST_F(MachineChecks, ShutdownAndSystemEventsStopTheMachine) {
  struct Case {
    hv::Exit exit;
    Reason reason;
  };
  const Case cases[] = {
      {hv::ShutdownExit{}, Reason::Shutdown},
      {hv::SystemEventExit{hv::SystemEventKind::Reset, 0}, Reason::Reset},
      {hv::SystemEventExit{hv::SystemEventKind::Shutdown, 0}, Reason::Shutdown},
  };
  for (const auto& c : cases) {
    FakeBackendState state;
    FakeHypervisor hypervisor(state);
    state.scripts[0].exits.emplace_back(c.exit);
    auto m = Machine::create(hypervisor, config());
    ASSERT_TRUE(m) << m.error().to_string();
    const auto exit = (*m)->run();
    EXPECT_EQ(exit.reason, c.reason) << exit.message;
  }
}

// --- the stop protocol ---------------------------------------------------------------------------

TEST_F(MachineChecks, TheFirstReasonToStopIsTheOneReported) {
  auto m = make(config());
  ASSERT_TRUE(m);
  m->request_stop({Reason::Stopped, 124, "timed out"});
  m->request_stop({Reason::Error, 1, "a later error"});
  const auto exit = m->run();
  EXPECT_EQ(exit.reason, Reason::Stopped);
  EXPECT_EQ(exit.status, 124U);
  EXPECT_EQ(exit.message, "timed out");
}

TEST_F(MachineChecks, AStopFromAnotherThreadKicksEveryVcpu) {
  // Three vCPUs that never exit on their own; without a kick each run() waits forever.
  auto m = make(config(3));
  ASSERT_TRUE(m);
  std::thread stopper([&] {
    for (;;) {  // wait until every vCPU is inside run(), then stop from this thread
      {
        std::lock_guard lock(state_.mutex);
        if (state_.run_threads.size() == 3) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    m->request_stop({Reason::Stopped, 143, "stopped by SIGTERM"});
  });
  const auto exit = m->run();
  stopper.join();
  EXPECT_EQ(exit.reason, Reason::Stopped) << exit.message;
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_GE(state_.kicks[i], 1) << "vCPU " << i;
}

TEST_F(MachineChecks, TheDoorbellThreadEndsWithTheMachine) {
  state_.refuse_ioeventfds = false;
  script(0, {hv::HaltExit{}});
  auto c = config();
  c.virtio = {std::make_shared<hv::virtio::RngDevice>()};
  auto m = make(c);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->virtio_doorbells(), 1U);
  const auto exit = m->run();  // returns only once the doorbell thread has noticed the stop
  EXPECT_EQ(exit.reason, Reason::Halted) << exit.message;
}

// --- threads that cannot start --------------------------------------------------------------------

// In this (child) process: takes a fresh user id, so that only this process's threads count against
// RLIMIT_NPROC, allows `threads_allowed` threads besides this one, runs `machine`, and exits 0 when
// run() reports Error with `message`. Should a thread that started never be told to stop, run() never
// returns and SIGALRM ends the process after 20 s: the death test fails.
[[noreturn]] void run_under_a_thread_limit(Machine& machine, rlim_t threads_allowed, const std::string& message) {
  ::alarm(20);
  const uid_t uid = 0x7ffe0000U + static_cast<uid_t>(::getpid() & 0xffff);
  if (::setresuid(uid, uid, uid) != 0) {
    std::fprintf(stderr, "setresuid(%u): %s\n", uid, std::strerror(errno));
    std::_Exit(10);
  }
  const rlimit limit{threads_allowed + 1, threads_allowed + 1};
  if (::setrlimit(RLIMIT_NPROC, &limit) != 0) {
    std::fprintf(stderr, "setrlimit(RLIMIT_NPROC): %s\n", std::strerror(errno));
    std::_Exit(11);
  }
  const auto exit = machine.run();
  const bool ok = exit.reason == Reason::Error && exit.message.find(message) != std::string::npos;
  if (!ok) std::fprintf(stderr, "run(): reason %d, \"%s\"\n", static_cast<int>(exit.reason), exit.message.c_str());
  std::_Exit(ok ? 0 : 1);  // no exit handlers: LeakSanitizer's would need a thread too
}

// A vCPU, doorbell or console thread that cannot start (here: the thread limit) stops the machine with
// Error naming it; the threads already started (vCPU 0, which then waits in run() for a kick; the
// doorbell thread) are told to stop, so run() returns instead of waiting for them.
TEST_F(MachineChecks, AThreadThatCannotStartStopsTheMachineAsAnError) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the machine under a fresh user id with a thread limit";
  // Each case in a fresh process: the limit and the user id must not reach the test runner.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct Case {
    const char* what;
    std::uint32_t vcpus;
    bool doorbell;
    rlim_t threads_allowed;
    const char* message;
  };
  const Case cases[] = {
      {"vCPU 0 starts, vCPU 1 cannot", 3, false, 1, "cannot start the thread of vCPU 1: "},
      {"the doorbell thread starts, vCPU 0 cannot", 1, true, 1, "cannot start the thread of vCPU 0: "},
      {"no thread starts, the doorbell thread first", 1, true, 0, "cannot start the doorbell thread: "},
      {"vCPU 0 starts, the console flusher (started last) cannot", 1, false, 1, "cannot start the console flusher: "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    FakeBackendState state;
    state.refuse_ioeventfds = !c.doorbell;
    FakeHypervisor hypervisor(state);
    auto cfg = config(c.vcpus);
    if (c.doorbell) cfg.virtio = {std::make_shared<hv::virtio::RngDevice>()};
    auto m = Machine::create(hypervisor, cfg);
    ASSERT_TRUE(m) << m.error().to_string();
    ASSERT_EQ((*m)->virtio_doorbells(), c.doorbell ? 1U : 0U);
    EXPECT_EXIT(run_under_a_thread_limit(**m, c.threads_allowed, c.message), ::testing::ExitedWithCode(0), "");
  }
}

// --- interrupt lines ------------------------------------------------------------------------------

TEST_F(MachineChecks, ARefusedInterruptLineNeitherStopsTheGuestNorRepeatsItself) {
  // With an in-kernel irqchip the UART drives GSI 4 through VmInterruptLine. The guest enables the
  // THR-empty interrupt, transmits three bytes (each re-arms it), disables it, and halts.
  constexpr std::uint8_t enable = 0x02, disable = 0x00, byte = 'A';
  script(0, {PioWrite{0x3f9, enable}, PioWrite{0x3f8, byte}, PioWrite{0x3f8, byte}, PioWrite{0x3f8, byte},
             PioWrite{0x3f9, disable}, hv::HaltExit{}});
  auto c = config();
  c.in_kernel_irqchip = true;
  auto m = make(c);
  ASSERT_TRUE(m);
  const auto exit = m->run();
  EXPECT_EQ(exit.reason, Reason::Halted) << "a refused set_irq_line stopped the machine: " << exit.message;
  EXPECT_EQ(console_->contents(), "AAA");
  // Five register writes, each re-evaluating the line: only the two changes of level were forwarded.
  EXPECT_EQ(state_.irq_lines, (std::vector<std::pair<std::uint32_t, bool>>{{4, true}, {4, false}}));
}

// The UART shares the console sink: a caller may drop its pointer right after Machine::create (a
// Machine that kept the caller's raw pointer would write through freed memory here: ASan).
TEST_F(MachineChecks, TheUartKeepsAConsoleTheCallerDropped) {
  script(0, {PioWrite{0x3f8, 'o'}, PioWrite{0x3f8, 'k'}, hv::HaltExit{}});
  auto c = config();
  auto sink = std::make_shared<hv::dev::BufferSink>();
  const std::weak_ptr<hv::dev::BufferSink> watch = sink;
  c.console = std::move(sink);
  auto m = make(c);
  ASSERT_TRUE(m);
  c.console.reset();  // the caller keeps nothing
  ASSERT_FALSE(watch.expired()) << "the machine's UART keeps its console";
  const auto exit = m->run();
  EXPECT_EQ(exit.reason, Reason::Halted) << exit.message;
  {
    const auto kept = watch.lock();
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->contents(), "ok");
  }
  m.reset();
  EXPECT_TRUE(watch.expired()) << "and lets go of it with the machine";
}

TEST(InterruptLines, AnIrqfdWithAFullCounterDoesNotBlockItsCaller) {
  auto created = hv::EventFd::create();
  ASSERT_TRUE(created);
  auto event = std::make_shared<hv::EventFd>(std::move(*created));
  ASSERT_TRUE(event->signal(0xfffffffffffffffeULL));  // the most an eventfd counter holds
  hv::dev::IrqfdInterruptLine line(event);
  line.set_level(true);  // a blocking eventfd would wait here until someone read the counter
  line.set_level(false);
  line.set_level(true);
  auto count = event->consume();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 0xfffffffffffffffeULL) << "the signals that did not fit were dropped";
}

// A virtio device that counts its notifications and remembers the thread that delivered the last.
class CountingDevice final : public hv::virtio::VirtioDevice {
 public:
  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 4; }
  [[nodiscard]] std::uint64_t features() const noexcept override { return 0; }
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return 1; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return 8; }
  void read_config(std::uint64_t, std::span<std::uint8_t> data) override { std::fill(data.begin(), data.end(), 0); }
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}
  hv::Result<void> activate(std::shared_ptr<const hv::GuestMemory>, std::uint64_t,
                            std::vector<std::pair<std::uint16_t, hv::virtio::Queue>>,
                            hv::virtio::DeviceSignals) override {
    return {};
  }
  void notify(std::uint16_t) override {
    std::lock_guard lock(mutex);
    ++notifies;
    thread = std::this_thread::get_id();
  }
  void reset() override {}
  std::mutex mutex;
  int notifies = 0;
  std::thread::id thread;
};

TEST_F(MachineChecks, DoorbellRingsCoalesceAndAreServedOnTheDoorbellThread) {
  state_.refuse_ioeventfds = false;
  auto device = std::make_shared<CountingDevice>();
  auto c = config();
  c.virtio = {device};
  auto m = make(c);
  ASSERT_TRUE(m);
  ASSERT_EQ(state_.doorbells.size(), 1U);
  // The driver's setup, as its MMIO writes: features, one 8-entry queue in RAM, DRIVER_OK.
  const auto wr = [&](std::uint64_t offset, std::uint32_t value) {
    std::uint8_t bytes[4];
    std::memcpy(bytes, &value, 4);
    ASSERT_TRUE(m->devices().mmio().write(hv::vmm::kVirtioBase + offset, bytes));
  };
  for (const auto& [offset, value] : std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0x70, 1},
                                                                                          {0x70, 3},
                                                                                          {0x24, 1},
                                                                                          {0x20, 1},
                                                                                          {0x70, 11},
                                                                                          {0x30, 0},
                                                                                          {0x38, 8},
                                                                                          {0x80, 0x10000},
                                                                                          {0x90, 0x10100},
                                                                                          {0xa0, 0x10200},
                                                                                          {0x44, 1},
                                                                                          {0x70, 15}}) {
    wr(offset, value);
  }
  // A guest rings 1000 times before the doorbell thread even runs: one notification serves them all.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(state_.doorbells[0].signal());
  std::thread stopper([&] {
    for (int waited = 0; waited < 10000; ++waited) {
      {
        std::lock_guard lock(device->mutex);
        if (device->notifies > 0) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // room for any extra notification
    m->request_stop({Reason::Stopped, 0, "test done"});
  });
  const auto exit = m->run();
  stopper.join();
  EXPECT_EQ(exit.reason, Reason::Stopped) << exit.message;
  std::lock_guard lock(device->mutex);
  EXPECT_EQ(device->notifies, 1);
  EXPECT_NE(device->thread, state_.run_threads[0]) << "the notification ran on the vCPU thread";
  EXPECT_NE(device->thread, std::this_thread::get_id());
}

// --- layout checks -------------------------------------------------------------------------------

TEST_F(MachineChecks, ConfigurationIsChecked) {
  auto c = config();
  c.console = nullptr;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "no console";
  c = config(0);
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "no vCPU";
  c = config();
  c.memory_bytes = (1ULL << 20) - hv::kPageSize;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "less than 1 MiB";
  c = config();
  c.memory_bytes = (4ULL << 20) + 1;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "not page-aligned";
  c = config();
  c.image.clear();
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "no image";
}

TEST_F(MachineChecks, RamMustEndBelowTheDeviceWindows) {
  auto c = config();
  c.virtio = {std::make_shared<hv::virtio::RngDevice>()};
  c.memory_bytes = hv::vmm::kVirtioBase + hv::kPageSize;  // reserved, never touched
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "RAM over the virtio windows";
  c.virtio.assign(hv::vmm::kMaxVirtioDevices + 1, std::make_shared<hv::virtio::RngDevice>());
  c.memory_bytes = 4ULL << 20;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "more devices than windows";
  c = config();
  c.testdev = true;
  c.memory_bytes = 0xd8000000ULL + hv::kPageSize;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "RAM over the scratch window";
  c.memory_bytes = 0xd8000000ULL;
  EXPECT_TRUE(make(c)) << "RAM ending exactly at the window";
}

TEST_F(MachineChecks, RealModeRunsOneVcpuFromBelow64KiB) {
  auto c = config(2);
  c.mode = hv::vmm::BootMode::Real;
  EXPECT_EQ(refused(c), hv::ErrorKind::InvalidArgument) << "two vCPUs would share one stack and IP";
  c = config();
  c.mode = hv::vmm::BootMode::Real;
  c.entry = 0x10000;
  EXPECT_EQ(refused(c), hv::ErrorKind::OutOfRange) << "entry above 64 KiB";
  c.entry = 0xffff;
  EXPECT_TRUE(make(c));
}

TEST_F(MachineChecks, AnImageReachingTheStacksOrPageTablesIsRefused) {
  // Long mode: page tables at the top of RAM, one 64 KiB stack per vCPU below them.
  constexpr std::uint64_t kRam = 4ULL << 20;
  constexpr std::uint64_t kStacks = 2 * 0x10000;
  const std::uint64_t tables = (kRam - hv::x86::kLongModeTablesSize) & ~(hv::kPageSize - 1);
  auto c = config(2);
  c.image.assign(0x100, 0x90);
  c.load_address = tables - kStacks - 0xff;  // the last byte is the lowest stack's bottom
  EXPECT_EQ(refused(c), hv::ErrorKind::OutOfRange);
  c.load_address = tables;  // over the page tables
  EXPECT_EQ(refused(c), hv::ErrorKind::OutOfRange);
  c.load_address = tables - kStacks - 0x100;
  EXPECT_TRUE(make(c)) << "an image ending just below the stacks";
  c = config(64);  // 64 stacks of 64 KiB do not fit below the tables in 4 MiB
  EXPECT_EQ(refused(c), hv::ErrorKind::OutOfRange);
}

// --- the loaders and read-only guest memory --------------------------------------------------------

// A minimal ELF64 x86-64 executable whose PT_LOAD segments each hold `filesz` bytes of `fill` at
// `paddr` (= p_vaddr), `memsz` bytes in memory; the entry is the first segment's address.
struct TestSegment {
  std::uint64_t paddr, filesz, memsz;
  std::uint8_t fill = 0x90;
};
std::vector<std::uint8_t> elf_with(const std::vector<TestSegment>& segments) {
  const std::size_t headers = 64 + 56 * segments.size();
  std::vector<std::uint8_t> elf(headers, 0);
  const auto put = [&](std::size_t at, auto value) { std::memcpy(elf.data() + at, &value, sizeof value); };
  const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1};  // ELF64, little-endian
  std::memcpy(elf.data(), ident, sizeof ident);
  put(16, std::uint16_t{2});                             // ET_EXEC
  put(18, std::uint16_t{62});                            // EM_X86_64
  put(24, segments.front().paddr);                       // e_entry
  put(32, std::uint64_t{64});                            // e_phoff
  put(54, std::uint16_t{56});                            // e_phentsize
  put(56, static_cast<std::uint16_t>(segments.size()));  // e_phnum
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& seg = segments[i];
    const std::size_t ph = 64 + 56 * i;
    put(ph, std::uint32_t{1});  // PT_LOAD
    put(ph + 8, static_cast<std::uint64_t>(elf.size()));
    put(ph + 16, seg.paddr);
    put(ph + 24, seg.paddr);
    put(ph + 32, seg.filesz);
    put(ph + 40, seg.memsz);
    elf.insert(elf.end(), seg.filesz, seg.fill);
  }
  return elf;
}
std::vector<std::uint8_t> one_segment_elf(std::uint64_t paddr, std::uint64_t filesz, std::uint64_t memsz) {
  return elf_with({{paddr, filesz, memsz}});
}

TEST(LoaderPermissions, ImagesAreNotLoadedIntoReadOnlyMemory) {
  // RAM [0, 1 MiB), a ROM [1 MiB, 1 MiB + 64 KiB) the VMM would fill itself.
  constexpr std::uint64_t kRom = 1ULL << 20;
  const hv::RegionSpec specs[] = {{0, kRom}, {kRom, 0x10000, hv::Permission::ReadOnly}};
  auto memory = hv::GuestMemory::create(specs);
  ASSERT_TRUE(memory);
  const auto rom_untouched = [&] {
    const auto rom = (*memory->find_region(kRom))->host();
    return std::all_of(rom.begin(), rom.end(), [](std::uint8_t b) { return b == 0; });
  };
  const std::vector<std::uint8_t> image(0x100, 0xf4);
  auto raw = hv::vmm::load_raw(*memory, image, kRom);
  ASSERT_FALSE(raw);
  EXPECT_EQ(raw.error().kind(), hv::ErrorKind::PermissionDenied) << raw.error().to_string();
  EXPECT_TRUE(rom_untouched());
  // An ELF segment in the ROM is refused before anything is written.
  EXPECT_FALSE(hv::vmm::load_elf64(*memory, one_segment_elf(kRom, 16, 16)));
  EXPECT_TRUE(rom_untouched());
  EXPECT_TRUE(hv::vmm::load_elf64(*memory, one_segment_elf(0x1000, 16, 16))) << "the same segment in RAM";
}

TEST(LoaderLimits, ASegmentOverAHoleFailsAfterWritingItsFileBytes) {
  // The documented limit: a hole inside a segment ([0x1000, 0x3100) over RAM [0, 0x2000) and
  // [0x3000, 0x4000)) is found by the zero-fill, after the file bytes were written: a failed load
  // can leave RAM partly written (Machine::create then fails and the machine is discarded).
  const hv::RegionSpec specs[] = {{0, 0x2000}, {0x3000, 0x1000}};
  auto memory = hv::GuestMemory::create(specs);
  ASSERT_TRUE(memory);
  auto r = hv::vmm::load_elf64(*memory, one_segment_elf(0x1000, 16, 0x2100));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::OutOfRange) << r.error().to_string();
  EXPECT_EQ(memory->read_obj<std::uint8_t>(0x1000).value(), 0x90) << "the file bytes were written first";
}

TEST(LoaderLimits, OverlappingSegmentsLoadInOrder) {
  // Not refused: the later segment overwrites the earlier one (the guest's own image).
  const hv::RegionSpec spec{0, 0x10000};
  auto memory = hv::GuestMemory::create(std::span(&spec, 1));
  ASSERT_TRUE(memory);
  auto r = hv::vmm::load_elf64(*memory, elf_with({{0x1000, 0x100, 0x100, 0x11}, {0x1080, 0x10, 0x100, 0x22}}));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(memory->read_obj<std::uint8_t>(0x107f).value(), 0x11);
  EXPECT_EQ(memory->read_obj<std::uint8_t>(0x1080).value(), 0x22);
  EXPECT_EQ(memory->read_obj<std::uint8_t>(0x10ff).value(), 0) << "the second segment's zero-fill";
}

}  // namespace
