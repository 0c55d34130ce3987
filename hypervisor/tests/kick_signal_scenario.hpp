#pragma once
// Checks for VmOptions::kick_signal, shared by the backends' tests (kvm/tests, mshv/tests). Each runs
// in a child process (EXPECT_EXIT): signal handlers are per process, and hvkit installs its kick
// handler once per process and signal. Each returns the child's exit status: 0 when the check held.

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>
#include <variant>

#include "hv/hypervisor.hpp"
#include "hv/testing/recording_io.hpp"
#include "hv/x86_boot.hpp"

namespace hvtest {

extern "C" inline void foreign_kick_handler(int /*signal*/) {}

// Gives `signal` a handler that is not hvkit's, as a VMM using that signal for itself would.
inline void install_foreign_handler(int signal) {
  struct sigaction action {};
  action.sa_handler = foreign_kick_handler;
  ::sigaction(signal, &action, nullptr);
}

// A VM created with `options` runs a real-mode guest spinning on `jmp $` in another thread; kick()
// from this thread must make run() return InterruptedExit. Exit statuses: 0 kicked, 2 setup failed,
// 3 run() returned before the kick or with something else, 4 the kick did not end run() (the child
// then exits at once: the vCPU thread is still inside run()), 5 `options.kick_signal` has no handler.
inline int kick_spinning_guest(hv::Hypervisor& hypervisor, const hv::VmOptions& options) {
  using namespace std::chrono_literals;
  auto vm = hypervisor.create_vm(options);
  auto ram = hv::GuestRegion::create(0, 0x10000);
  if (!vm || !ram) return 2;
  (*ram)->host()[0x1000] = 0xeb;  // jmp $
  (*ram)->host()[0x1001] = 0xfe;
  if (!(*vm)->map_memory(*ram)) return 2;
  auto vcpu = (*vm)->create_vcpu(0);
  if (!vcpu || !hv::x86::enter_real_mode(**vcpu, 0x1000, 0x7000)) return 2;
  auto result = std::async(std::launch::async, [&] {
    hv::testing::RecordingIo io;  // the guest spins: no access is expected
    return (*vcpu)->run(io);
  });
  std::this_thread::sleep_for(50ms);
  if (result.wait_for(0s) != std::future_status::timeout) return 3;
  (*vcpu)->kick();
  if (result.wait_for(10s) != std::future_status::ready) std::_Exit(4);
  auto exit = result.get();
  if (!exit || !std::holds_alternative<hv::InterruptedExit>(*exit)) return 3;
  struct sigaction current {};
  ::sigaction(options.kick_signal, nullptr, &current);
  if (current.sa_handler == SIG_DFL || current.sa_handler == foreign_kick_handler) return 5;
  return 0;
}

// With a foreign handler on `signal`, a VM that chose it refuses its vCPUs with Busy (and only then).
inline int refuses_foreign_handler(hv::Hypervisor& hypervisor, int signal) {
  install_foreign_handler(signal);
  auto vm = hypervisor.create_vm({.kick_signal = signal});
  if (!vm) return 2;
  auto vcpu = (*vm)->create_vcpu(0);
  return !vcpu && vcpu.error().kind() == hv::ErrorKind::Busy ? 0 : 1;
}

// Only real-time signals are kick signals; 0 is the backend's default.
inline bool only_real_time_signals_accepted(hv::Hypervisor& hypervisor) {
  for (const int signal : {SIGUSR1, SIGINT, SIGRTMAX + 1, -1, 1000}) {
    auto vm = hypervisor.create_vm({.kick_signal = signal});
    if (vm || vm.error().kind() != hv::ErrorKind::InvalidArgument) return false;
  }
  return hypervisor.create_vm({.kick_signal = SIGRTMAX}).has_value() && hypervisor.create_vm({}).has_value();
}

}  // namespace hvtest
