#pragma once
// The daemon around a BackendSession: a listening Unix socket (QEMU's "backend program conventions":
// --socket-path PATH creates it, --fd N hands one over), one frontend served at a time, and after it
// disconnects, or breaks the protocol, the device reset and the next frontend accepted (the
// reconnection a frontend with `reconnect` relies on). A descriptor handed over with --fd that is an
// already connected socket (a socketpair end, as libvirt passes to some backends) is served once.

#include <memory>
#include <string>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "hv/vhost/backend_session.hpp"

namespace hv::vhost {

// A listening socket at `path` (at most 107 bytes). A stale socket left there by an earlier run is
// replaced; anything else at that path (a file, a directory) is refused, never removed.
Result<UniqueFd> listen_unix(const std::string& path);

// Serves `socket` with `device` until the socket fails (an error) or, for a connected socket, the one
// frontend leaves (success). Each ended session is logged, with its reason, through `log`; each
// session's ring threads run `on_ring_thread` first (BackendSession::ThreadStart).
Result<void> serve_frontends(const std::shared_ptr<virtio::VirtioDevice>& device, UniqueFd socket,
                             const BackendSession::Logger& log, const BackendSession::ThreadStart& on_ring_thread = {});

}  // namespace hv::vhost
