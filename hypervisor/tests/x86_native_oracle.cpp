#include "x86_native_oracle.hpp"

#include <cstring>
#include <stdexcept>
#include <sys/mman.h>

namespace hvtest {

namespace {

void emit(std::vector<std::uint8_t>& code, std::initializer_list<std::uint8_t> bytes) {
  code.insert(code.end(), bytes);
}

void emit32(std::vector<std::uint8_t>& code, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) code.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// mov reg, [rdi + disp32] (load) or mov [rdi + disp32], reg (store), 64-bit.
void move(std::vector<std::uint8_t>& code, int reg, std::uint32_t disp, bool load) {
  code.push_back(static_cast<std::uint8_t>(0x48 | (reg >= 8 ? 4 : 0)));
  code.push_back(load ? 0x8b : 0x89);
  code.push_back(static_cast<std::uint8_t>(0x80 | ((reg & 7) << 3) | 7));
  emit32(code, disp);
}

}  // namespace

NativeOracle::NativeOracle(std::span<const std::uint8_t> instruction) {
  constexpr std::uint32_t kFlags = offsetof(NativeState, rflags);
  std::vector<std::uint8_t> code;
  // Save the callee-saved registers and the state pointer (System V: RDI).
  emit(code, {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x57});
  // RFLAGS from the state: mov rax, [rdi + flags]; push rax; popfq.
  move(code, 0, kFlags, true);
  emit(code, {0x50, 0x9d});
  for (int r = 0; r < 16; ++r) {
    if (r != 4 && r != 7) move(code, r, static_cast<std::uint32_t>(8 * r), true);
  }
  move(code, 7, 8 * 7, true);  // RDI last: it held the state pointer
  code.insert(code.end(), instruction.begin(), instruction.end());
  emit(code, {0x48, 0x87, 0x3c, 0x24});  // xchg rdi, [rsp]: state pointer back, guest RDI on the stack
  for (int r = 0; r < 16; ++r) {
    if (r != 4 && r != 7) move(code, r, static_cast<std::uint32_t>(8 * r), false);
  }
  emit(code, {0x9c, 0x58});  // pushfq; pop rax
  move(code, 0, kFlags, false);
  emit(code, {0x58});           // pop rax: the guest's RDI ...
  move(code, 0, 8 * 7, false);  // ... stored from RAX into the RDI slot
  emit(code, {0xfc});           // cld: the ABI requires DF clear on return
  emit(code, {0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3});
  size_ = 4096;
  page_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page_ == MAP_FAILED || code.size() > size_) throw std::runtime_error("cannot map the oracle page");
  std::memcpy(page_, code.data(), code.size());
  if (::mprotect(page_, size_, PROT_READ | PROT_EXEC) != 0)
    throw std::runtime_error("cannot make the oracle executable");
}

NativeOracle::~NativeOracle() {
  if (page_ != nullptr && page_ != MAP_FAILED) ::munmap(page_, size_);
}

void NativeOracle::run(NativeState& state) const {
  // Test-only: the page holds the code generated above, with the System V signature void(NativeState*).
  auto* function = reinterpret_cast<void (*)(NativeState*)>(page_);
  function(&state);
}

}  // namespace hvtest
