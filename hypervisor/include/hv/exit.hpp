#pragma once
// What Vcpu::run() returns. Each alternative is a small trivially-copyable value: decoding an exit
// allocates nothing. Spans inside an exit point into the vCPU's own buffers and stay valid until the
// next call on that vCPU.

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

namespace hv {

enum class AccessDirection : std::uint8_t { Read, Write };

// A port I/O instruction (IN/OUT, or INS/OUTS with `count` elements).
// For a Write, `data` holds size*count bytes the guest wrote. For a Read, the VMM answers with
// Vcpu::complete_read() before the next run(); a read left unanswered returns all-ones bytes to the
// guest, as an unclaimed port does on real hardware.
// A REP string instruction may arrive as several exits, each with count >= 1 and at most one page
// of data; the backend resumes the remaining iterations on the next run().
struct IoExit {
  std::uint16_t port = 0;
  std::uint8_t size = 0;  // 1, 2 or 4
  AccessDirection direction = AccessDirection::Read;
  std::uint32_t count = 1;
  std::span<const std::uint8_t> data;
};

// An access to guest-physical memory that no RAM region backs (or a write to a read-only region).
// Same completion rule as IoExit. One guest instruction may produce several MmioExits (a
// read-modify-write, XCHG, MOVS between two device addresses): on backends that emulate the
// instruction in userspace (MSHV), run() returns the next access without re-entering the guest.
struct MmioExit {
  std::uint64_t address = 0;
  std::uint8_t size = 0;  // 1, 2, 4 or 8
  AccessDirection direction = AccessDirection::Read;
  std::span<const std::uint8_t> data;
};

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

using Exit = std::variant<IoExit, MmioExit, HaltExit, ShutdownExit, InterruptedExit, SystemEventExit, InternalErrorExit,
                          UnknownExit>;

// A short human-readable label ("io", "mmio", "halt", ...).
// NOLINTNEXTLINE(bugprone-exception-escape): an Exit is never valueless (static_assert in exit.cpp).
std::string_view exit_name(const Exit& exit) noexcept;

}  // namespace hv
