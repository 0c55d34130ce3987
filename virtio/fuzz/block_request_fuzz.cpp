// virtio-blk request handling on a chain a fuzzer describes: any number of buffers, any framing,
// readable/writable mix, lengths and addresses (mostly inside a 64 KiB guest RAM), header and data
// bytes from the input; the disk is a 64 KiB memfd (one for the read-write device, one for the
// read-only one: a write lock and a read lock on one file would conflict). Invariants: no crash or
// sanitizer report, the used length never exceeds the chain's writable bytes, and neither disk ever
// grows (no write past the capacity).
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "../../hypervisor/fuzz/fuzz_input.hpp"
#include "hv/virtio/block.hpp"

namespace {
constexpr std::uint64_t kDisk = 64 * 1024;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static hv::GuestMemory memory = [] {
    const hv::RegionSpec spec{0, 0x10000};
    return std::move(*hv::GuestMemory::create(std::span(&spec, 1)));
  }();
  const auto make_disk = [] {
    const int fd = ::memfd_create("hvkit-blk-fuzz", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, kDisk) != 0) __builtin_trap();
    return fd;
  };
  static const int rw_fd = make_disk(), ro_fd = make_disk();
  static std::shared_ptr<hv::virtio::BlockDevice> rw, ro;
  if (!rw) {
    rw = hv::virtio::BlockDevice::open("/proc/self/fd/" + std::to_string(rw_fd), false).value();
    ro = hv::virtio::BlockDevice::open("/proc/self/fd/" + std::to_string(ro_fd), true).value();
  }
  hvfuzz::FuzzInput in(data, size);
  const bool read_only = (in.take<std::uint8_t>() & 1) != 0;
  hv::virtio::DescriptorChain chain;
  const unsigned count = in.take<std::uint8_t>() % 8 + 1;
  for (unsigned i = 0; i < count; ++i) {
    hv::virtio::Buffer b;
    const std::uint8_t kind = in.take<std::uint8_t>();
    b.address = (kind & 0x80) != 0 ? in.take<std::uint64_t>() : in.take<std::uint16_t>();
    b.length = (kind & 0x40) != 0 ? in.take<std::uint32_t>() : in.take<std::uint16_t>() % 2048;
    b.device_writable = (kind & 1) != 0;
    (b.device_writable ? chain.writable_bytes : chain.readable_bytes) += b.length;
    chain.buffers.push_back(b);
  }
  hvfuzz::fill_repeating(memory.slice(0, 0x10000).value(), in.bytes(0x10000));
  const std::uint32_t used = (read_only ? ro : rw)->handle(memory, chain);
  if (used > chain.writable_bytes) __builtin_trap();
  for (const int fd : {rw_fd, ro_fd}) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != kDisk) __builtin_trap();
  }
  return 0;
}
