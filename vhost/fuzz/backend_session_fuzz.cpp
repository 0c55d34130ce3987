// A hostile frontend's message stream into BackendSession::handle, serving a virtio-rng device: any
// request code, flags, payload and descriptor count, memory regions over a real memfd and eventfds for
// kicks and calls, so rings really start (kick threads, device activation) when the bytes say so.
// Invariants: no crash, no out-of-bounds access (ASan), no hang; the session either answers or asks
// for the connection to be dropped (then the input ends, as the connection would).
#include <sys/socket.h>

#include <array>

#include "fuzz_frontend.hpp"
#include "hv/vhost/backend_session.hpp"
#include "hv/virtio/rng.hpp"

namespace {

// Reads and discards whatever the session sent, so its replies never fill the socket.
void drain(int fd) {
  std::array<std::uint8_t, 4096> sink{};
  while (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  auto pair = hv::vhost::Channel::pair();
  if (!pair) return 0;
  hv::vhost::Channel frontend = std::move(pair->first);
  hv::vhost::BackendSession session(std::make_shared<hv::virtio::RngDevice>(), std::move(pair->second),
                                    [](const std::string&) {});
  for (int step = 0; step < 32 && !in.empty(); ++step) {
    hv::vhost::Message m = hvfuzz::take_message(in);
    const bool keep = session.handle(std::move(m)).has_value();
    drain(frontend.fd());
    if (!keep) break;
  }
  return 0;
}
