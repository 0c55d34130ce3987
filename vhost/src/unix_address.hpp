#pragma once
// The one place in vhost/ that builds a Unix socket address and hands it to connect(2) or bind(2)
// (Channel::connect, listen_unix): the path check and the sockaddr_un -> sockaddr cast the socket
// API requires live here, once.
#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "hv/error.hpp"

namespace hv::vhost::detail {

// InvalidArgument (under `op`) for an empty path or one too long for sun_path.
Result<sockaddr_un> unix_address(const std::string& path, std::string_view op);
// connect(2) or bind(2) on `fd` with `addr` in the generic form both take; their return value.
int with_unix_address(int (*call)(int, const sockaddr*, socklen_t), int fd, const sockaddr_un& addr) noexcept;

}  // namespace hv::vhost::detail
