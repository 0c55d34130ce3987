#pragma once
// What Vcpu::run() returns: why the vCPU stopped running the guest. Each alternative is a small
// trivially-copyable value: decoding an exit allocates nothing. Spans inside an exit point into the
// vCPU's own buffers and stay valid until the next call on that vCPU.

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

namespace hv {

// Port I/O and MMIO do not end run(): the backend hands each access to the IoHandler given to
// Vcpu::run() and completes the instruction (hv/io_handler.hpp).

struct HaltExit {};         // HLT with no in-kernel interrupt controller to wait on
struct ShutdownExit {};     // triple fault or an explicit shutdown
struct InterruptedExit {};  // Vcpu::kick() or a pending signal ended the run

enum class SystemEventKind : std::uint8_t { Shutdown, Reset, Crash, Other };
struct SystemEventExit {
  SystemEventKind kind = SystemEventKind::Other;
  std::uint64_t raw = 0;
};

// The hypervisor could not run or emulate the guest (often the guest's doing: an instruction the
// hypervisor cannot emulate, an exception it cannot deliver). Carries what the hypervisor said; the
// guest's RIP is in its registers (Vcpu::get_registers), which the exit leaves as they were.
//   KVM, KVM_EXIT_INTERNAL_ERROR: `code` is the suberror (KVM_INTERNAL_ERROR_EMULATION = 1, SIMUL_EX = 2,
//     DELIVERY_EV = 3, UNEXPECTED_EXIT_REASON = 4), `data` the kernel's data words; for EMULATION,
//     `instruction` holds the bytes at RIP when the kernel gave them.
//   KVM, KVM_EXIT_FAIL_ENTRY: `code` is 9 (the exit reason), `detail` the hardware entry failure reason.
//   MSHV: `code` is the message type: HVMSG_UNSUPPORTED_FEATURE (`detail` the feature code, `data` its
//     parameter) or HVMSG_INVALID_VP_REGISTER_VALUE. (An instruction hvkit's MSHV emulator cannot
//     decode or execute is an error from run() naming the RIP and the bytes, not this exit.)
struct InternalErrorExit {
  std::uint32_t code = 0;
  std::uint64_t detail = 0;
  std::string_view name;                      // static storage: what `code` means ("KVM_INTERNAL_ERROR_EMULATION")
  std::span<const std::uint64_t> data;        // the hypervisor's data words, possibly none
  std::span<const std::uint8_t> instruction;  // the instruction bytes at RIP, when the hypervisor gave them
};

// An exit hvkit does not decode.
struct UnknownExit {
  std::string_view backend;  // static storage
  std::uint64_t raw_reason = 0;
};

using Exit = std::variant<HaltExit, ShutdownExit, InterruptedExit, SystemEventExit, InternalErrorExit, UnknownExit>;

// A short human-readable label ("io", "mmio", "halt", ...).
// NOLINTNEXTLINE(bugprone-exception-escape): an Exit is never valueless (static_assert in exit.cpp).
std::string_view exit_name(const Exit& exit) noexcept;

}  // namespace hv
