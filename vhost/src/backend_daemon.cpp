// The backend daemon's socket handling: the one file of the backend that binds, listens and accepts.
// sockaddr_un is the socket API's address type; bind() takes its generic form (the cast below).
#include "hv/vhost/backend_daemon.hpp"

#include "unix_address.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <cstring>

namespace hv::vhost {
namespace {

bool is_listening(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0;
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path) {
  constexpr const char* op = "vhost-user listen";
  auto addr = detail::unix_address(path, op);
  if (!addr) return tl::unexpected(addr.error());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail(ErrorKind::AlreadyExists, op, path + " exists and is not a socket");
    if (::unlink(path.c_str()) != 0) return fail_errno(op, errno, "unlink stale socket " + path);
  }
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno(op, errno);
  if (detail::with_unix_address(::bind, s.get(), *addr) != 0) return fail_errno(op, errno, path);
  if (::listen(s.get(), 1) != 0) return fail_errno(op, errno, path);
  return s;
}

Result<void> serve_frontends(const std::shared_ptr<virtio::VirtioDevice>& device, UniqueFd socket,
                             const BackendSession::Logger& log, const BackendSession::ThreadStart& on_ring_thread) {
  if (!is_listening(socket.get())) {
    BackendSession session(device, Channel(std::move(socket)), log, on_ring_thread);
    auto ended = session.run();
    log(ended ? "the frontend disconnected" : "session ended: " + ended.error().to_string());
    return {};
  }
  for (;;) {
    UniqueFd connection(::accept4(socket.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return fail_errno("vhost-user accept", errno);
    }
    log("frontend connected");
    {
      BackendSession session(device, Channel(std::move(connection)), log, on_ring_thread);
      auto ended = session.run();
      log(ended ? "the frontend disconnected; device reset, waiting for the next"
                : "session ended: " + ended.error().to_string() + "; device reset, waiting for the next");
    }  // the session's end resets the device
  }
}

}  // namespace hv::vhost
