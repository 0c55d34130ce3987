#pragma once
// The harness every case uses: a VM with 2 MiB of RAM at guest-physical 0, a guest program loaded at
// 0x1000, vCPUs entered in real or long mode, and a run loop that records exits, answers reads, and
// is stopped by a watchdog kick if the guest hangs. (A backend whose kick() never works can hang a
// case; CTest's per-test timeout is the last line of defence there.)

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hv/conformance/suite.hpp"
#include "hv/guest_memory.hpp"
#include "hv/hypervisor.hpp"

namespace hv::conformance {

inline constexpr std::uint64_t kRamSize = 0x200000;  // [0, 2 MiB)
inline constexpr std::uint64_t kTables = 0x180000;   // long-mode GDT + page tables
inline constexpr std::uint64_t kRealModeStack = 0x8000;
inline constexpr std::uint64_t kLongModeStack = 0x80000;
inline constexpr std::uint64_t kScratch = 0x20000;        // SCRATCH in guests/guest.inc
inline constexpr std::uint64_t kMmioWindow = 0xd0000000;  // MMIO_WINDOW in guests/guest.inc
inline constexpr std::uint16_t kReportPort = 0x80;        // REPORT_PORT in guests/guest.inc

enum class CpuMode : std::uint8_t { Real, Long };

struct BootSpec {
  std::string_view guest;  // guests/<name>.S
  CpuMode mode = CpuMode::Long;
  VmOptions vm_options{};
  std::uint32_t vcpus = 1;
};

// One access the backend handed to the run's IoHandler (one element of a string instruction).
struct IoRecord {
  std::uint16_t port;
  std::uint8_t size;
  AccessDirection direction;
  std::vector<std::uint8_t> data;             // written bytes, or what the guest read
  [[nodiscard]] std::uint64_t value() const;  // little-endian value of the first element
};

struct MmioRecord {
  std::uint64_t address;
  std::uint8_t size;
  AccessDirection direction;
  std::vector<std::uint8_t> data;
  [[nodiscard]] std::uint64_t value() const;
};

// Answers a read: returns exactly the bytes to give the guest, or nullopt to leave it unanswered (the
// guest then reads all-ones).
using ReadResponder = std::function<std::optional<std::vector<std::uint8_t>>(std::uint64_t address, std::size_t bytes)>;

struct Trace {
  std::vector<IoRecord> io;
  std::vector<MmioRecord> mmio;
  std::string final_exit;  // exit_name() of the exit that ended the run ("halt", "shutdown", ...)
  bool timed_out = false;
  std::string error;                                         // a run() error, if that ended the run
  [[nodiscard]] std::vector<std::uint64_t> reports() const;  // values OUT to kReportPort, in order
};

struct RunLimits {
  // Device accesses before the run is stopped (final_exit "too-many-accesses").
  std::size_t max_accesses = 4096;
  std::chrono::milliseconds deadline{10000};
  // Stop (final_exit "report") after the guest writes this value to kReportPort. With an in-kernel
  // irqchip HLT never exits, so guests that wait for interrupts end this way.
  std::optional<std::uint64_t> stop_on_report;
};

class TestVm {
 public:
  // Unsupported when the backend lacks what the spec needs; other failures come back as errors.
  static Result<std::unique_ptr<TestVm>> boot(Hypervisor& hypervisor, const BootSpec& spec);

  Vm& vm() { return *vm_; }
  Vcpu& vcpu(std::size_t index = 0) { return *vcpus_.at(index); }
  // The Vm's memory(): exactly what is mapped.
  const GuestMemory& memory() { return *vm_->memory(); }
  [[nodiscard]] std::uint64_t image_size() const noexcept { return image_size_; }
  // Address just past the guest image: where RIP points after a final HLT.
  [[nodiscard]] std::uint64_t image_end() const noexcept { return 0x1000 + image_size_; }

  // Maps a new region (it then appears in memory()); returns its slot.
  Result<MemorySlot> add_region(std::uint64_t base, std::uint64_t size, MapOptions options = {});

  // Runs until the vCPU stops (halt, shutdown, ...), recording every device access and answering
  // reads with `responder`.
  Trace run(std::size_t vcpu_index = 0, const ReadResponder& responder = {}, RunLimits limits = {});

  // Re-enters the guest at its first instruction: RIP and this vCPU's own boot stack are reset;
  // other registers, segments and memory are kept (no guest here changes its segments).
  Result<void> restart(std::size_t vcpu_index = 0);

 private:
  TestVm() = default;
  std::unique_ptr<Vm> vm_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::uint64_t image_size_ = 0;
  CpuMode mode_ = CpuMode::Long;
  std::vector<std::uint64_t> stacks_;  // each vCPU's boot stack
  // A watchdog that fired after its run had already ended leaves one kick pending on that vCPU; the
  // next run() absorbs exactly that one InterruptedExit.
  std::vector<bool> stale_kick_;
};

// Builds a failure message from streamable parts: why("rax was ", hex(x)).
template <class... Parts>
std::string why(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);  // NOLINT(cppcoreguidelines-pro-bounds-array-to-pointer-decay): literals stream as C strings
  return out.str();
}
using hv::hex;

// Turns an hv::Error into a case result: Unsupported errors become unsupported, others fail.
CaseResult from_error(const Error& error, std::string_view during);

}  // namespace hv::conformance

// Early-return helpers for case bodies: they return from the calling case, which no function can do.
// NOLINTBEGIN(cppcoreguidelines-macro-usage)
#define CONF_TRY(expr, during)                                                                            \
  do {                                                                                                    \
    if (auto&& conf_r_ = (expr); !conf_r_) return ::hv::conformance::from_error(conf_r_.error(), during); \
  } while (0)
#define CONF_CHECK(cond, ...)                                                                     \
  do {                                                                                            \
    if (!(cond)) return ::hv::conformance::CaseResult::fail(::hv::conformance::why(__VA_ARGS__)); \
  } while (0)
#define CONF_EXPECT_EXIT(trace, name)                                                                                  \
  do {                                                                                                                 \
    if ((trace).final_exit != (name))                                                                                  \
      return ::hv::conformance::CaseResult::fail(::hv::conformance::why(                                               \
          "guest ended with '", (trace).final_exit, "' instead of '", (name), "'",                                     \
          (trace).timed_out ? " (watchdog: timed out)" : "", (trace).error.empty() ? "" : " error: ", (trace).error)); \
  } while (0)
// NOLINTEND(cppcoreguidelines-macro-usage)
