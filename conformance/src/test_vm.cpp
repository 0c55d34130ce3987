#include "test_vm.hpp"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <variant>

#include "guest_images.hpp"
#include "hv/x86_boot.hpp"

namespace hv::conformance {

namespace {

std::uint64_t little_endian(const std::vector<std::uint8_t>& bytes, std::size_t size) {
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data(), std::min({bytes.size(), size, sizeof v}));
  return v;
}

// Kicks the vCPU if the run has not finished by the deadline, so a hung guest fails its case
// instead of hanging the suite.
class Watchdog {
 public:
  Watchdog(Vcpu& vcpu, std::chrono::milliseconds deadline)
      : thread_([this, &vcpu, deadline] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, deadline, [this] { return done_; })) {
            fired_ = true;
            vcpu.kick();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }
  // Prevents a later kick; returns whether the watchdog had already kicked.
  bool stop() {
    std::lock_guard lock(mutex_);
    done_ = true;
    cv_.notify_all();
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

// The IoHandler of one TestVm::run(): records every access in order, answers reads through the
// responder, and kicks the vCPU when the run should end (the report value arrived, or too many
// accesses): run() then returns InterruptedExit after the instruction.
class RecordingHandler final : public IoHandler {
 public:
  RecordingHandler(Vcpu& vcpu, Trace& trace, const ReadResponder& responder, const RunLimits& limits)
      : vcpu_(vcpu), trace_(trace), responder_(responder), limits_(limits) {}

  void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override {
    answer(port, data);
    record_io(port, AccessDirection::Read, data);
  }
  void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
    record_io(port, AccessDirection::Write, data);
    if (limits_.stop_on_report && port == kReportPort && trace_.io.back().value() == *limits_.stop_on_report) {
      stop(Stop::Report);
    }
  }
  void mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept override {
    answer(address, data);
    record_mmio(address, AccessDirection::Read, data);
  }
  void mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept override {
    record_mmio(address, AccessDirection::Write, data);
  }

  enum class Stop : std::uint8_t { None, Report, TooManyAccesses };
  [[nodiscard]] Stop stopped() const noexcept { return stop_; }

 private:
  void answer(std::uint64_t address, std::span<std::uint8_t> data) {
    if (!responder_) return;  // unanswered: the backend's all-ones stay
    auto given = responder_(address, data.size());
    if (!given) return;
    if (given->size() != data.size()) {
      trace_.error = "responder answered " + std::to_string(given->size()) + " bytes for a " +
                     std::to_string(data.size()) + "-byte read";
      return;
    }
    std::copy(given->begin(), given->end(), data.begin());
  }
  void record_io(std::uint16_t port, AccessDirection direction, std::span<const std::uint8_t> data) {
    trace_.io.push_back({port, static_cast<std::uint8_t>(data.size()), direction, {data.begin(), data.end()}});
    count();
  }
  void record_mmio(std::uint64_t address, AccessDirection direction, std::span<const std::uint8_t> data) {
    trace_.mmio.push_back({address, static_cast<std::uint8_t>(data.size()), direction, {data.begin(), data.end()}});
    count();
  }
  void count() {
    if (++accesses_ == limits_.max_accesses) stop(Stop::TooManyAccesses);
  }
  void stop(Stop why) {
    if (stop_ == Stop::None) stop_ = why;
    vcpu_.kick();
  }

  Vcpu& vcpu_;
  Trace& trace_;
  const ReadResponder& responder_;
  const RunLimits& limits_;
  std::size_t accesses_ = 0;
  Stop stop_ = Stop::None;
};

}  // namespace

CaseResult from_error(const Error& error, std::string_view during) {
  auto detail = why(during, ": ", error.to_string());
  return error.kind() == ErrorKind::Unsupported ? CaseResult::unsupported(std::move(detail))
                                                : CaseResult::fail(std::move(detail));
}

std::uint64_t IoRecord::value() const { return little_endian(data, size); }
std::uint64_t MmioRecord::value() const { return little_endian(data, size); }

std::vector<std::uint64_t> Trace::reports() const {
  std::vector<std::uint64_t> out;
  for (const auto& record : io) {
    if (record.port == kReportPort && record.direction == AccessDirection::Write) out.push_back(record.value());
  }
  return out;
}

Result<std::unique_ptr<TestVm>> TestVm::boot(Hypervisor& hypervisor, const BootSpec& spec) {
  const auto image = guest_image(spec.guest);
  if (image.empty()) return fail(ErrorKind::NotFound, "TestVm::boot", "no guest named " + std::string(spec.guest));
  if (image.size() > kTables - kGuestLoadAddress) return fail(ErrorKind::OutOfRange, "TestVm::boot", "guest too large");
  std::unique_ptr<TestVm> t(new TestVm());
  t->mode_ = spec.mode;
  t->image_size_ = image.size();
  auto vm = hypervisor.create_vm(spec.vm_options);
  if (!vm) return tl::unexpected(vm.error());
  t->vm_ = std::move(*vm);
  if (auto r = t->add_region(0, kRamSize); !r) return tl::unexpected(r.error());
  if (auto r = t->memory().write(kGuestLoadAddress, image); !r) return tl::unexpected(r.error());
  for (std::uint32_t i = 0; i < spec.vcpus; ++i) {
    auto vcpu = t->vm_->create_vcpu(i);
    if (!vcpu) return tl::unexpected(vcpu.error());
    const std::uint64_t stack = spec.mode == CpuMode::Real ? kRealModeStack - std::uint64_t{i} * 0x800
                                                           : kLongModeStack - std::uint64_t{i} * 0x4000;
    t->stacks_.push_back(stack);
    t->stale_kick_.push_back(false);
    auto entered = spec.mode == CpuMode::Real
                       ? x86::enter_real_mode(**vcpu, static_cast<std::uint16_t>(kGuestLoadAddress),
                                              static_cast<std::uint16_t>(stack))
                       : x86::enter_long_mode(t->memory(), **vcpu, kTables, kGuestLoadAddress, stack);
    if (!entered) return tl::unexpected(entered.error());
    t->vcpus_.push_back(std::move(*vcpu));
  }
  return t;
}

Result<MemorySlot> TestVm::add_region(std::uint64_t base, std::uint64_t size, MapOptions options) {
  auto region = GuestRegion::create(base, size);
  if (!region) return tl::unexpected(region.error());
  return vm_->map_memory(*region, options);
}

Result<void> TestVm::restart(std::size_t vcpu_index) {
  auto& cpu = vcpu(vcpu_index);
  auto regs = cpu.get_registers();
  if (!regs) return tl::unexpected(regs.error());
  regs->rip = kGuestLoadAddress;
  regs->rsp = stacks_.at(vcpu_index);
  return cpu.set_registers(*regs);
}

Trace TestVm::run(std::size_t vcpu_index, const ReadResponder& responder, RunLimits limits) {
  Trace trace;
  auto& cpu = vcpu(vcpu_index);
  bool absorb_stale_kick = stale_kick_.at(vcpu_index);
  stale_kick_.at(vcpu_index) = false;
  Watchdog watchdog(cpu, limits.deadline);
  RecordingHandler handler(cpu, trace, responder, limits);
  for (;;) {
    auto exit = cpu.run(handler);
    if (!exit) {
      trace.error = exit.error().to_string();
      trace.final_exit = "error";
      return trace;
    }
    const bool interrupted = std::holds_alternative<InterruptedExit>(*exit);
    if (interrupted && handler.stopped() == RecordingHandler::Stop::Report) {
      trace.final_exit = "report";
    } else if (interrupted && handler.stopped() == RecordingHandler::Stop::TooManyAccesses) {
      trace.final_exit = "too-many-accesses";
    } else if (interrupted && absorb_stale_kick && !watchdog.fired()) {
      absorb_stale_kick = false;
      continue;
    } else {
      trace.final_exit = std::string(exit_name(*exit));
      trace.timed_out = interrupted && watchdog.fired();
    }
    // Stop the watchdog now; if it already fired but the run ended some other way, its kick is pending.
    if (!(interrupted && watchdog.fired()) && watchdog.stop()) stale_kick_.at(vcpu_index) = true;
    return trace;
  }
}

}  // namespace hv::conformance
