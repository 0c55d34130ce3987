#include "backend_ring.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace hv::vhost {
namespace {

// NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic in C.
int duplicate(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

// Waits for kicks until `stop` is signalled or the kick descriptor fails.
void wait_for_kicks(int kick, int stop, const std::function<void()>& on_kick) {
  for (;;) {
    std::array<pollfd, 2> fds{{{kick, POLLIN, 0}, {stop, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) return;  // error or hang-up without data: the kick is gone
    std::uint64_t count = 0;
    const ssize_t n = ::read(kick, &count, sizeof count);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    on_kick();
  }
}

}  // namespace

Result<void> KickWorker::start(int kick_fd, std::function<void()> on_kick, std::function<void()> on_start) {
  stop();
  kick_ = UniqueFd(duplicate(kick_fd));
  if (!kick_) return fail_errno("vhost-user kick thread", errno, "dup");
  stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_) return fail_errno("vhost-user kick thread", errno, "eventfd");
  try {
    thread_ = std::thread(
        [kick = kick_.get(), halt = stop_.get(), on_kick = std::move(on_kick), on_start = std::move(on_start)] {
          if (on_start) on_start();
          wait_for_kicks(kick, halt, on_kick);
        });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::ResourceExhausted, "vhost-user kick thread", e.what());
  }
  return {};
}

void KickWorker::stop() noexcept {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    while (::write(stop_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  kick_.reset();
  stop_.reset();
}

std::uint32_t BackendRing::position() const noexcept {
  if (!resume) return base;
  if (const auto* split = std::get_if<virtio::SplitQueueState>(&*resume)) return split->next_avail;
  const auto* packed = std::get_if<virtio::PackedQueueState>(&*resume);
  if (packed == nullptr) return base;  // unreachable: the variant holds one of the two
  return (packed->next_avail & ~kPackedWrapBit) | (packed->avail_wrap ? kPackedWrapBit : 0U);
}

void BackendRing::reset() noexcept {
  worker.stop();
  size = 0;
  addresses.reset();
  base = 0;
  resume.reset();
  inflight.reset();
  kick.reset();
  enabled = false;
}

}  // namespace hv::vhost
