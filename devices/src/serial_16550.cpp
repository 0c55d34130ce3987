#include "hv/dev/serial_16550.hpp"

#include <algorithm>
#include <mutex>

namespace hv::dev {

void Serial16550::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (data.size() != 1 || offset >= kRegisterCount) {
    std::ranges::fill(data, std::uint8_t{0xff});
    return;
  }
  std::lock_guard lock(mutex_);
  data[0] = core_.read(offset);
}

void Serial16550::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (data.size() != 1 || offset >= kRegisterCount) return;
  std::lock_guard lock(mutex_);
  core_.write(offset, data[0]);
}

std::size_t Serial16550::enqueue_input(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  return core_.enqueue_input(bytes);
}

std::size_t Serial16550::input_space() const {
  std::lock_guard lock(mutex_);
  return core_.input_space();
}

void Serial16550::flush_output() {
  std::lock_guard lock(mutex_);
  core_.flush_output();
}

std::size_t Serial16550::buffered_output() const {
  std::lock_guard lock(mutex_);
  return core_.buffered_output();
}

}  // namespace hv::dev
