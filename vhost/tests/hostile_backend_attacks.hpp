#pragma once
// The hostile backend's catalogue: each case is a scripted backend (scripted_backend.hpp) with one
// hostile answer, listening where `hvctl run --backend B --vhost-user-DEVICE SOCKET` connects, and
// what hvctl must do about it: the exit status README's table gives (4: negotiation failed; the
// guest's own status once the machine runs) and a stderr line naming the socket. `during` runs while
// hvctl runs (a flood, a hang-up once the device is live, used-ring entries written into guest
// memory). The test runs every case on each hypervisor backend (kvm, mshv-sim), and a negotiation
// case against every device that needs no configuration space (rng and i2c).

#include <span>

#include "scripted_backend.hpp"

namespace hvtest {

struct BackendAttack {
  const char* name;
  // "rng": negotiation only, run as --vhost-user-rng and as --vhost-user-i2c (guest halt_only);
  // "blk": --vhost-user-blk, with `guest`.
  const char* device;
  const char* guest;  // HVKIT_TEST_GUESTS/GUEST.bin
  void (*script)(hv::vhost::testing::ScriptedBackend::Script&);
  void (*during)(hv::vhost::testing::ScriptedBackend&);  // may be nullptr
  int exit_status;
  const char* message;  // in hvctl's stderr, after "--vhost-user-DEVICE SOCKET: " (nullptr: no message)
};

std::span<const BackendAttack> backend_attacks();

}  // namespace hvtest
