#pragma once
// How a vCPU's port I/O and MMIO reach the VMM's devices. The VMM passes an IoHandler to every
// Vcpu::run(); the backend calls it once per device access, in the order the guest makes them, and
// completes the instruction itself before it returns: an IN, an MMIO read-modify-write, a MOVS from
// one device address to another or a REP INS/OUTS across pages is one call of run(), however many
// accesses it makes. No access can be left unanswered, answered twice or answered late.

#include <cstdint>
#include <span>

namespace hv {

enum class AccessDirection : std::uint8_t { Read, Write };

class IoHandler {
 public:
  // Reads arrive with `data` filled with 0xff (an unclaimed bus); the handler overwrites what it
  // answers. Writes carry the bytes the guest wrote. `data` holds one access: 1, 2 or 4 bytes for
  // port I/O (one element of a string instruction), 1, 2, 4 or 8 for MMIO, and is valid only for
  // the call. Handlers run on the thread inside run() and must not throw (noexcept) or call run()
  // on the same vCPU; a handler that wants run() to return calls Vcpu::kick(), and run() returns
  // InterruptedExit once the current instruction is complete.
  virtual void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept = 0;
  virtual void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept = 0;
  virtual void mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept = 0;
  virtual void mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept = 0;

  IoHandler() = default;
  IoHandler(const IoHandler&) = default;
  IoHandler& operator=(const IoHandler&) = default;
  IoHandler(IoHandler&&) = default;
  IoHandler& operator=(IoHandler&&) = default;
  virtual ~IoHandler() = default;
};

}  // namespace hv
