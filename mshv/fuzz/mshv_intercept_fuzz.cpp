// The MSHV backend's exit path on messages a fuzzer writes: a fake /dev/mshv (an MshvSystem) returns
// fuzzer-chosen intercept messages from RUN_VP, register values from GET_VP_REGISTERS and results
// from TRANSLATE_VIRTUAL_ADDRESS, and the VP register page's bytes (isvalid included) at each intercept;
// the VMM side answers reads with fuzzer-chosen bytes (sometimes the
// wrong number). Invariants: no crash or sanitizer report, exits are well-formed (IO sizes 1/2/4 and
// data = size x count; MMIO sizes 1/2/4/8 and data = size), and every run ends.
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/guest_memory.hpp"
#include "hv/mshv/mshv.hpp"
#include "mshv_abi.hpp"

namespace {

namespace abi = hv::mshv::abi;

class FuzzedSystem final : public hv::mshv::MshvSystem {
 public:
  explicit FuzzedSystem(hvfuzz::FuzzInput& in) : in_(in) {}
  int open_device() noexcept override { return 100; }
  void close(int) noexcept override {}
  [[nodiscard]] std::string describe() const override { return "fuzz"; }
  // A register page whose bytes (isvalid and the registers included) the input writes at every intercept.
  hv::mshv::PageMapping map_vp_page(int fd, std::uint64_t offset) noexcept override {
    if (fd != 102 || offset != 0) return {nullptr, ENODEV};
    return {std::make_unique<Page>(page_), 0};
  }
  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    if (fd == 100 && request == abi::kCreatePartition) return 101;
    if (fd == 101 && request == abi::kInitializePartition) return 0;
    if (fd == 101 && request == abi::kCreateVp) return 102;
    if (fd == 101 && request == abi::kSetGuestMemory) return 0;
    if (request == abi::kRootHvcall) return hvcall(*static_cast<abi::RootHvcall*>(arg));
    if (fd == 102 && request == abi::kRunVp) {
      if (in_.empty()) return -EIO;  // the input is used up: end the run
      auto* run = static_cast<abi::RunVp*>(arg);
      std::memset(run->msg_buf, 0, sizeof run->msg_buf);
      // A mostly valid message type, then the payload from the input.
      static constexpr std::uint32_t kTypes[] = {abi::kMsgX64IoPortIntercept, abi::kMsgUnmappedGpa,
                                                 abi::kMsgGpaIntercept,       abi::kMsgX64Halt,
                                                 abi::kMsgX64ApicEoi,         abi::kMsgUnrecoverableException};
      const std::uint8_t pick = in_.take<std::uint8_t>();
      const std::uint32_t type = pick < 240 ? kTypes[pick % std::size(kTypes)] : in_.take<std::uint32_t>();
      std::memcpy(run->msg_buf, &type, 4);
      const auto payload = in_.bytes(sizeof run->msg_buf - 16);
      std::memcpy(run->msg_buf + 16, payload.data(), payload.size());
      const auto page = in_.bytes(424);
      std::memcpy(page_->data(), page.data(), page.size());
      return in_.take<std::uint8_t>() == 0xee ? -EINTR : 0;
    }
    return -ENOTTY;
  }

 private:
  using Storage = std::array<std::uint8_t, 4096>;
  class Page final : public hv::mshv::MappedPage {
   public:
    explicit Page(std::shared_ptr<Storage> storage) : storage_(std::move(storage)) {}
    [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept override { return *storage_; }

   private:
    std::shared_ptr<Storage> storage_;
  };
  std::shared_ptr<Storage> page_ = std::make_shared<Storage>();

  long hvcall(abi::RootHvcall& call) {
    if (call.out_ptr != 0 && call.out_sz > 0) {
      // Register values and translations straight from the input (bounded by the output page).
      auto* out = reinterpret_cast<std::uint8_t*>(call.out_ptr);  // the backend's own output buffer
      std::memset(out, 0, call.out_sz);
      const auto bytes = in_.bytes(call.out_sz);
      std::memcpy(out, bytes.data(), bytes.size());
      if (call.code == abi::kHvcallTranslateVirtualAddress && call.out_sz >= 16) {
        out[0] = static_cast<std::uint8_t>(out[0] % 6);  // mostly small result codes
        std::uint64_t page = 0;
        std::memcpy(&page, out + 8, 8);
        page %= 32;  // mostly inside or just past the 64 KiB of RAM
        std::memcpy(out + 8, &page, 8);
      }
    }
    call.status = in_.take<std::uint8_t>() == 0x5a ? abi::kHvStatusInvalidParameter : abi::kHvStatusSuccess;
    return call.status == 0 ? 0 : -EIO;
  }
  hvfuzz::FuzzInput& in_;
};

// The VMM side: traps on a malformed access, answers reads from the input.
class FuzzedIo final : public hv::IoHandler {
 public:
  explicit FuzzedIo(hvfuzz::FuzzInput& in) : in_(in) {}
  void pio_read(std::uint16_t, std::span<std::uint8_t> data) noexcept override {
    check_pio(data.size());
    answer(data);
  }
  void pio_write(std::uint16_t, std::span<const std::uint8_t> data) noexcept override { check_pio(data.size()); }
  void mmio_read(std::uint64_t, std::span<std::uint8_t> data) noexcept override {
    check_mmio(data.size());
    answer(data);
  }
  void mmio_write(std::uint64_t, std::span<const std::uint8_t> data) noexcept override { check_mmio(data.size()); }

 private:
  static void check_pio(std::size_t size) {
    if (size != 1 && size != 2 && size != 4) __builtin_trap();
  }
  static void check_mmio(std::size_t size) {
    if (size != 1 && size != 2 && size != 4 && size != 8) __builtin_trap();
  }
  void answer(std::span<std::uint8_t> data) {
    for (const std::uint8_t b : data) {
      if (b != 0xff) __builtin_trap();  // reads arrive as all-ones
    }
    if (in_.take<std::uint8_t>() < 200) {  // mostly answered, sometimes left to the open bus
      const auto bytes = in_.bytes(data.size());
      std::memcpy(data.data(), bytes.data(), bytes.size());
    }
  }
  hvfuzz::FuzzInput& in_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto system = std::make_shared<FuzzedSystem>(in);
  auto hypervisor = hv::mshv::open(system, "mshv-fuzz");
  if (!hypervisor) return 0;
  auto vm = (*hypervisor)->create_vm();
  if (!vm) return 0;
  auto ram = hv::GuestRegion::create(0, 0x10000);
  if (!ram || !(*vm)->map_memory(*ram)) return 0;
  auto vcpu = (*vm)->create_vcpu(0);
  if (!vcpu) return 0;
  FuzzedIo io(in);
  for (int i = 0; i < 64; ++i) {
    auto exit = (*vcpu)->run(io);
    if (!exit && in.empty()) break;  // an error is an answer; the next run() must still behave
  }
  return 0;
}
