#pragma once
// The hostile frontend's catalogue: each attack runs on a fresh connection to a running daemon
// (hostile_frontend_test.cpp runs every one against every daemon, then checks the daemon survived and
// serves a well-behaved frontend). An attack may check the daemon's answers itself (a REPLY_ACK
// refusal); `log` is a line fragment the daemon's stderr must gain from it (its clear error), or
// nullptr where the daemon rightly has nothing to say (a request it accepts, a frontend that left).

#include <span>

#include "hostile_frontend_peer.hpp"

namespace hvtest {

struct FrontendAttack {
  const char* name;
  void (*run)(HostileFrontendPeer&);
  const char* log;
};

std::span<const FrontendAttack> frontend_attacks();

}  // namespace hvtest
