// Fuzzes the kvm_run decoder with arbitrary page contents: whatever the exit reason, sizes and offsets,
// decode_exit must either refuse the page or return spans that lie inside it (internal errors' data
// words and instruction bytes too).
#include <cstdint>
#include <cstring>
#include <vector>

#include "kvm_abi.hpp"
#include "kvm_exit_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A kvm_run mapping is 1 to 3 pages; the first input byte picks how many.
  if (size == 0) return 0;
  const std::size_t pages = 1 + data[0] % 3;
  std::vector<std::uint8_t> page(pages * 4096, 0);
  std::memcpy(page.data(), data + 1, std::min(size - 1, page.size()));
  auto decoded = hv::kvm::detail::decode_exit(page);
  if (!decoded) return 0;
  auto touch = [&](std::span<const std::uint8_t> s) {
    if (s.empty()) return;
    if (s.data() < page.data() || s.data() + s.size() > page.data() + page.size()) __builtin_trap();
    volatile std::uint8_t sink = s.front();
    sink = s.back();
    (void)sink;
  };
  if (const auto* io = std::get_if<hv::kvm::detail::KvmIoAccess>(&*decoded)) {
    if (io->data.size() != std::size_t{io->size} * io->count) __builtin_trap();
    touch(io->data);
  }
  if (const auto* mmio = std::get_if<hv::kvm::detail::KvmMmioAccess>(&*decoded)) touch(mmio->data);
  const auto* exit = std::get_if<hv::Exit>(&*decoded);
  if (const auto* internal = exit != nullptr ? std::get_if<hv::InternalErrorExit>(exit) : nullptr) {
    touch({reinterpret_cast<const std::uint8_t*>(internal->data.data()), internal->data.size_bytes()});
    touch(internal->instruction);
  }
  return 0;
}
