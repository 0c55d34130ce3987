#pragma once
// Executes a decoded instruction (hv/x86_instruction.hpp) against the vCPU's registers and a memory
// callback, as a VMM must for MMIO intercepts on MSHV: every mnemonic decode() returns. The supported
// table, the atomicity given to LOCK and the string-instruction rules are in docs/x86-emulator.md.

#include <array>
#include <cstdint>
#include <span>

#include "hv/error.hpp"
#include "hv/x86_instruction.hpp"
#include "hv/x86_registers.hpp"

namespace hv::x86 {

// Where an instruction's memory accesses go. Addresses are linear (segment base applied); the VMM
// translates them to guest-physical and routes each access to RAM or a device. Each access is 1, 2, 4
// or 8 bytes; the executor never dereferences an address itself.
class LinearMemory {
 public:
  virtual ~LinearMemory() = default;
  virtual Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) = 0;
  virtual Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) = 0;
  // Bracket the read and the write of an instruction the CPU performs atomically: a LOCK-prefixed
  // read-modify-write, or XCHG with a memory operand. The default does nothing, which makes the pair
  // atomic only with respect to this vCPU. Override to hold whatever lock serializes other vCPUs and
  // device threads against the location (for a device register: the device's own lock).
  virtual void begin_atomic(std::uint64_t /*linear*/, std::uint8_t /*size*/) {}
  virtual void end_atomic() noexcept {}
};

// Segment bases indexed by SegmentRegister. In 64-bit mode only FS and GS bases are used.
using SegmentBases = std::array<std::uint64_t, 6>;

struct ExecutionLimits {
  // Element operations one call performs for a REP-prefixed string instruction. At the limit the
  // registers record the progress and RIP stays on the instruction, exactly as when the CPU takes an
  // interrupt between iterations: re-executing it (in the guest, or by calling execute() again)
  // continues where it stopped. Values below 1 count as 1.
  std::uint32_t max_string_iterations = 1024;
};

struct Execution {
  bool complete = true;          // false: a REP string stopped early; RIP was not advanced
  std::uint64_t iterations = 0;  // string element operations performed (0 for other instructions)
};

// Applies `insn` to `regs` and memory, then advances RIP past it (unless a REP string instruction
// stopped early). Each instruction (each string element) reads before it writes and writes memory at
// most once, as its last access. On an error nothing in `regs` has changed, the instruction has not
// completed, and no memory write happened except the failing one (which the callback may have partly
// performed). A REP string instruction whose element k > 0 fails returns success with complete = false
// after k elements; re-executing it reports the error, as the CPU reports the fault.
Result<Execution> execute(const Instruction& insn, CpuMode mode, const SegmentBases& segments, GeneralRegisters& regs,
                          LinearMemory& memory, ExecutionLimits limits = {});

}  // namespace hv::x86
