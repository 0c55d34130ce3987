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

std::vector<std::uint8_t> answer_read(const ReadResponder& responder, std::uint64_t address, std::size_t bytes,
                                      Vcpu& vcpu, std::string& error) {
  std::optional<std::vector<std::uint8_t>> answer;
  if (responder) answer = responder(address, bytes);
  if (!answer) return std::vector<std::uint8_t>(bytes, 0xff);  // unanswered: the backend supplies all-ones
  if (auto r = vcpu.complete_read(*answer); !r) error = r.error().to_string();
  return *answer;
}

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
  if (auto r = t->memory_.write(kGuestLoadAddress, image); !r) return tl::unexpected(r.error());
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
                       : x86::enter_long_mode(t->memory_, **vcpu, kTables, kGuestLoadAddress, stack);
    if (!entered) return tl::unexpected(entered.error());
    t->vcpus_.push_back(std::move(*vcpu));
  }
  return t;
}

Result<MemorySlot> TestVm::add_region(std::uint64_t base, std::uint64_t size, MapOptions options) {
  auto region = GuestRegion::create(base, size);
  if (!region) return tl::unexpected(region.error());
  if (auto r = memory_.add_region(*region); !r) return tl::unexpected(r.error());
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
  for (std::size_t n = 0; n < limits.max_exits; ++n) {
    auto exit = cpu.run();
    if (exit && absorb_stale_kick && std::holds_alternative<InterruptedExit>(*exit)) {
      absorb_stale_kick = false;
      continue;
    }
    if (!exit) {
      trace.error = exit.error().to_string();
      trace.final_exit = "error";
      return trace;
    }
    if (const auto* io = std::get_if<IoExit>(&*exit)) {
      IoRecord record{io->port, io->size, io->direction, io->count, {io->data.begin(), io->data.end()}};
      if (io->direction == AccessDirection::Read) {
        record.data = answer_read(responder, io->port, io->data.size(), cpu, trace.error);
      }
      const bool stop = limits.stop_on_report && record.port == kReportPort &&
                        record.direction == AccessDirection::Write && record.value() == *limits.stop_on_report;
      trace.io.push_back(std::move(record));
      if (stop) {
        trace.final_exit = "report";
        return trace;
      }
      continue;
    }
    if (const auto* mmio = std::get_if<MmioExit>(&*exit)) {
      MmioRecord record{mmio->address, mmio->size, mmio->direction, {mmio->data.begin(), mmio->data.end()}};
      if (mmio->direction == AccessDirection::Read) {
        record.data = answer_read(responder, mmio->address, mmio->data.size(), cpu, trace.error);
      }
      trace.mmio.push_back(std::move(record));
      continue;
    }
    trace.final_exit = std::string(exit_name(*exit));
    const bool interrupted = std::holds_alternative<InterruptedExit>(*exit);
    trace.timed_out = interrupted && watchdog.fired();
    // Stop the watchdog now; if it already fired but the run ended some other way, its kick is pending.
    if (!interrupted && watchdog.stop()) stale_kick_.at(vcpu_index) = true;
    return trace;
  }
  trace.final_exit = "too-many-exits";
  return trace;
}

}  // namespace hv::conformance
