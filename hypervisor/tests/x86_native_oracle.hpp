#pragma once
// Runs one instruction natively on the host CPU with chosen register and flag values: the oracle the
// emulator's differential tests compare against (64-bit mode only, since the test process is 64-bit).

#include <cstdint>
#include <span>
#include <vector>

namespace hvtest {

struct NativeState {
  std::uint64_t regs[16] = {};  // by x86 number: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 (RSP unused)
  std::uint64_t rflags = 0x2;
};

class NativeOracle {
 public:
  // `instruction` must not touch RSP or transfer control.
  explicit NativeOracle(std::span<const std::uint8_t> instruction);
  ~NativeOracle();
  NativeOracle(const NativeOracle&) = delete;
  NativeOracle& operator=(const NativeOracle&) = delete;
  void run(NativeState& state) const;

 private:
  void* page_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace hvtest
