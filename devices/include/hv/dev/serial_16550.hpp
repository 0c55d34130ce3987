#pragma once
// The 16550A UART as a thread-safe BusDevice: Serial16550Core (hv/dev/serial_16550_core.hpp, the
// register model, its checks and its output buffering) behind one lock (a FutexMutex). Every call — register
// accesses from any vCPU, the VMM's input thread, a flusher — may come from any thread. This is the
// UART to put on a DeviceManager's bus; a VMM that already serialises its calls may use the core
// directly and save the lock.
//
// The UART shares its sink and interrupt line: the VMM may drop its own pointers to them once the
// UART has them.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <utility>

#include "hv/dev/bus_device.hpp"
#include "hv/dev/byte_sink.hpp"
#include "hv/dev/futex_mutex.hpp"
#include "hv/dev/interrupt_line.hpp"
#include "hv/dev/serial_16550_core.hpp"

namespace hv::dev {

class Serial16550 final : public BusDevice {
 public:
  static constexpr std::size_t kFifoSize = Serial16550Core::kFifoSize;
  static constexpr std::uint64_t kRegisterCount = Serial16550Core::kRegisterCount;  // bus range size

  // Neither may be null (a contract violation terminates). With TransmitBuffering::LineBuffered the
  // caller must call flush_output() while the guest runs (see TransmitBuffering).
  Serial16550(std::shared_ptr<ByteSink> output, std::shared_ptr<InterruptLine> irq,
              TransmitBuffering buffering = TransmitBuffering::Unbuffered)
      : core_(std::move(output), std::move(irq), buffering) {}

  // Only single-byte accesses reach registers; wider ones read all-ones and are ignored when written.
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // One register, locked, without the bus's virtual call and span: for a VMM that dispatches a port
  // to the UART itself (as a rust-vmm VMM calls vm-superio's Serial inside its Mutex).
  std::uint8_t read_register(std::uint64_t offset) {
    std::lock_guard lock(mutex_);
    return core_.read(offset);
  }
  void write_register(std::uint64_t offset, std::uint8_t value) {
    std::lock_guard lock(mutex_);
    core_.write(offset, value);
  }

  // Host -> guest, as Serial16550Core::enqueue_input: returns how many bytes the FIFO took.
  std::size_t enqueue_input(std::span<const std::uint8_t> bytes);
  std::size_t input_space() const;
  // Hands buffered output (LineBuffered) to the sink now.
  void flush_output();
  std::size_t buffered_output() const;

 private:
  mutable FutexMutex mutex_;  // held for one register access: see futex_mutex.hpp
  Serial16550Core core_;
};

}  // namespace hv::dev
