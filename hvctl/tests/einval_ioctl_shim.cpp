// An LD_PRELOAD shim for hvctl's tests: the ioctl whose request number is in HVKIT_TEST_EINVAL_IOCTL
// fails with EINVAL, as a kernel refusing it would; every other ioctl reaches libc.
#include <dlfcn.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>

extern "C" int ioctl(int fd, unsigned long request, ...) {  // NOLINT: libc's signature
  va_list args;
  va_start(args, request);
  void* arg = va_arg(args, void*);
  va_end(args);
  static const unsigned long refused = [] {
    const char* value = std::getenv("HVKIT_TEST_EINVAL_IOCTL");
    return value == nullptr ? 0UL : std::strtoul(value, nullptr, 0);
  }();
  if (refused != 0 && request == refused) {
    errno = EINVAL;
    return -1;
  }
  using Ioctl = int (*)(int, unsigned long, ...);
  static const auto real = reinterpret_cast<Ioctl>(::dlsym(RTLD_NEXT, "ioctl"));
  return real(fd, request, arg);
}
