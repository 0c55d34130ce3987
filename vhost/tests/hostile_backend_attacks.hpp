#pragma once
// The hostile backend's catalogue: each case is a scripted backend (scripted_backend.hpp) with one
// hostile answer, listening where `hvctl run --backend kvm --vhost-user-rng|blk SOCKET` connects, and
// what hvctl must do about it: the exit status README's table gives (4: negotiation failed; the
// guest's own status once the machine runs) and a stderr line naming the socket. `during` runs while
// hvctl runs (a flood, a hang-up once the device is live).

#include <span>

#include "scripted_backend.hpp"

namespace hvtest {

struct BackendAttack {
  const char* name;
  const char* device;  // "rng" (guest halt_only: negotiation only) or "blk" (guest virtio_blk_await_reset)
  void (*script)(hv::vhost::testing::ScriptedBackend::Script&);
  void (*during)(hv::vhost::testing::ScriptedBackend&);  // may be nullptr
  int exit_status;
  const char* message;  // in hvctl's stderr, after "--vhost-user-DEVICE SOCKET: " (nullptr: no message)
};

std::span<const BackendAttack> backend_attacks();

}  // namespace hvtest
