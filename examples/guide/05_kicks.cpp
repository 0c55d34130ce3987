// docs/guide.md, "Kicks and threads": another thread stops a vCPU that never exits on its own; a
// second run() on a vCPU that is already running is Busy at once; kicks that arrive before run()
// coalesce into one InterruptedExit; an IoHandler can end run() by kicking its own vCPU.
// Usage: guide_05_kicks [BACKEND]
// Exit status: 0 when all four held; 77 when BACKEND is not available here; 1 otherwise.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <span>
#include <thread>
#include <variant>

#include <hv/x86_boot.hpp>

#include "example.hpp"

namespace {

using guide::expect;
using guide::must;

// Counts the guest's port writes; kicks the vCPU at the `kick_at`-th when that is set.
class Counter final : public hv::IoHandler {
 public:
  explicit Counter(hv::Vcpu& vcpu, std::uint64_t kick_at = 0) : vcpu_(vcpu), kick_at_(kick_at) {}
  std::atomic<std::uint64_t> writes = 0;

  void pio_write(std::uint16_t, std::span<const std::uint8_t>) noexcept override {
    if (++writes == kick_at_) vcpu_.kick();
  }
  void pio_read(std::uint16_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_read(std::uint64_t, std::span<std::uint8_t>) noexcept override {}
  void mmio_write(std::uint64_t, std::span<const std::uint8_t>) noexcept override {}

 private:
  hv::Vcpu& vcpu_;
  std::uint64_t kick_at_;
};

}  // namespace

int main(int argc, char** argv) {
  auto hypervisor = guide::open_backend(argc, argv);
  auto vm = must(hypervisor->create_vm(), "create_vm");
  auto ram = must(hv::GuestRegion::create(0, 0x10000), "create RAM");
  constexpr std::array<std::uint8_t, 4> code = {0xE6, 0x80, 0xEB, 0xFC};  // loop: out 0x80, al; jmp loop
  std::copy(code.begin(), code.end(), ram->host().begin() + 0x1000);
  must(vm->map_memory(ram), "map RAM");
  auto vcpu = must(vm->create_vcpu(0), "create_vcpu");
  must(hv::x86::enter_real_mode(*vcpu, 0x1000, 0x8000), "enter real mode");

  // [guide:kick_thread]
  Counter counter(*vcpu);
  hv::Result<hv::Exit> result = hv::Exit{};
  std::thread vcpu_thread([&] { result = vcpu->run(counter); });
  while (counter.writes == 0) std::this_thread::yield();  // the guest is running: run() is in progress

  Counter other(*vcpu);
  auto second = vcpu->run(other);  // a second run() on the same vCPU, from another thread
  expect(!second && second.error().kind() == hv::ErrorKind::Busy, "a second concurrent run() is Busy");

  vcpu->kick();  // any thread: the run() in progress returns InterruptedExit
  vcpu_thread.join();
  expect(result && std::holds_alternative<hv::InterruptedExit>(*result), "the kick ended the running run()");
  // [/guide:kick_thread]
  std::printf("kicked after %llu guest writes; the second run() said: %s\n",
              static_cast<unsigned long long>(counter.writes.load()), second.error().to_string().c_str());

  // [guide:kick_coalesce]
  vcpu->kick();
  vcpu->kick();  // kicks before run() coalesce ...
  auto first = must(vcpu->run(counter), "run");
  expect(std::holds_alternative<hv::InterruptedExit>(first), "a pending kick ends the next run() at once");
  Counter kicks_itself(*vcpu, 3);  // ... into one: the next run() goes on until this handler kicks
  auto next = must(vcpu->run(kicks_itself), "run");
  expect(std::holds_alternative<hv::InterruptedExit>(next) && kicks_itself.writes == 3,
         "one InterruptedExit for two kicks; a handler's kick ends run() after that instruction");
  // [/guide:kick_coalesce]
  std::printf("ok\n");
  return 0;
}
