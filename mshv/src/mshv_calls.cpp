#include "mshv_calls.hpp"

#include <cerrno>

namespace hv::mshv::detail {

Result<long> MshvFd::call(std::uint32_t request, void* arg, const char* operation) const {
  for (;;) {
    const long r = system_->ioctl(fd_, request, arg);
    if (r >= 0) return r;
    if (r != -EINTR) return fail_errno(operation, static_cast<int>(-r));
  }
}

Result<long> MshvFd::call_once(std::uint32_t request, void* arg, const char* operation, bool& interrupted) const {
  interrupted = false;
  const long r = system_->ioctl(fd_, request, arg);
  if (r >= 0) return r;
  if (r == -EINTR || r == -EAGAIN) {  // both mean "call RUN_VP again" [docs/mshv-abi.md §4]
    interrupted = true;
    return 0;
  }
  return fail_errno(operation, static_cast<int>(-r));
}

Result<std::uint16_t> hypercall(const MshvFd& fd, std::uint16_t code, std::uint16_t reps, std::span<std::uint8_t> input,
                                std::span<std::uint8_t> output, const char* operation) {
  if (input.size() < 8 || input.size() > abi::kHvcallMaxInput || output.size() > abi::kHvcallMaxInput) {
    return fail(ErrorKind::InvalidArgument, operation, "hypercall buffers must be 8..4096 bytes");
  }
  abi::RootHvcall call{};
  call.code = code;
  call.reps = reps;
  call.in_sz = static_cast<std::uint16_t>(input.size());
  call.out_sz = static_cast<std::uint16_t>(output.size());
  // The ABI passes buffers by address; the kernel (or simulator) copies them in and out.
  call.in_ptr = user_address(input.data());
  call.out_ptr = output.empty() ? 0 : user_address(output.data());
  for (int attempt = 0;; ++attempt) {
    const long r = fd.system().ioctl(fd.get(), abi::kRootHvcall, &call);
    // 6.15-era kernels deposit a page on INSUFFICIENT_MEMORY and ask for the same call again
    // [docs/mshv-abi.md §5].
    // The kernel wrote back status and reps completed: the retry is the original call.
    if (r == -EINTR || (r == -EAGAIN && attempt < 16)) {
      call.status = 0;
      call.reps = reps;
      continue;
    }
    if (call.status != abi::kHvStatusSuccess) {
      return tl::unexpected(Error::from_hypervisor_status(operation, call.status, "hypercall " + hex(code)));
    }
    if (r < 0) return fail_errno(operation, static_cast<int>(-r));
    return call.reps;
  }
}

}  // namespace hv::mshv::detail
