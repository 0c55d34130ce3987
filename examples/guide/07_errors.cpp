// docs/guide.md, "Errors": every fallible call returns hv::Result<T>; the error says what kind of
// failure it was, which operation failed, and why. Five mistakes, each with the kind every backend
// gives it, and how a VMM's own functions hand errors on.
// Usage: guide_07_errors [BACKEND]
// Exit status: 0 when every mistake gave its documented kind and the good path worked; 77 when
// BACKEND is not available here; 1 otherwise.
#include <cstdint>
#include <cstdio>
#include <memory>

#include <hv/x86_boot.hpp>

#include "example.hpp"

namespace {

using guide::expect;
using guide::must;

// [guide:error_propagation]
// A VMM's own fallible step returns hv::Result too, and hands errors on unchanged.
hv::Result<std::unique_ptr<hv::Vcpu>> real_mode_vcpu(hv::Vm& vm, std::uint32_t id, std::uint16_t entry) {
  auto vcpu = vm.create_vcpu(id);
  if (!vcpu) return tl::unexpected(vcpu.error());
  if (auto entered = hv::x86::enter_real_mode(**vcpu, entry, 0x8000); !entered) {
    return tl::unexpected(entered.error());
  }
  return vcpu;
}
// [/guide:error_propagation]

void show(const char* what, const hv::Error& error) { std::printf("%-28s %s\n", what, error.to_string().c_str()); }

}  // namespace

int main(int argc, char** argv) {
  auto hypervisor = guide::open_backend(argc, argv);
  auto vm = must(hypervisor->create_vm(), "create_vm");
  auto ram = must(hv::GuestRegion::create(0, 0x10000), "create RAM");
  must(vm->map_memory(ram), "map RAM");

  // [guide:error_kinds]
  auto unknown = hv::open_hypervisor("xen");
  expect(!unknown && unknown.error().kind() == hv::ErrorKind::NotFound, "an unknown backend is NotFound");

  auto misaligned = hv::GuestRegion::create(0x1234, 0x1000);
  expect(!misaligned && misaligned.error().kind() == hv::ErrorKind::InvalidArgument, "a misaligned region");

  auto overlapping = must(hv::GuestRegion::create(0x8000, 0x10000), "create a second region");
  auto mapped = vm->map_memory(overlapping);  // 0x8000..0x18000 collides with RAM at 0..0x10000
  expect(!mapped && mapped.error().kind() == hv::ErrorKind::Overlap, "overlapping guest memory is Overlap");

  auto outside = vm->memory()->read_obj<std::uint32_t>(0x10000);  // a device reading past the end of RAM
  expect(!outside && outside.error().kind() == hv::ErrorKind::OutOfRange, "a read outside guest RAM is OutOfRange");

  auto first = must(real_mode_vcpu(*vm, 0, 0x1000), "create vCPU 0");
  auto again = real_mode_vcpu(*vm, 0, 0x1000);
  expect(!again && again.error().kind() == hv::ErrorKind::AlreadyExists, "a vCPU id in use is AlreadyExists");
  // [/guide:error_kinds]

  show("open_hypervisor(\"xen\"):", unknown.error());
  show("GuestRegion::create(0x1234):", misaligned.error());
  show("map_memory(overlapping):", mapped.error());
  show("read past the end of RAM:", outside.error());
  show("create_vcpu(0) again:", again.error());

  // [guide:error_handling]
  if (!again) {
    const hv::Error& error = again.error();
    switch (error.kind()) {
      case hv::ErrorKind::Unavailable:  // this host cannot: try another backend
      case hv::ErrorKind::Unsupported:  // this backend cannot: do without the feature
        std::printf("fall back: %s\n", std::string(error.message()).c_str());
        break;
      default:  // a bug or a broken host: report everything the error knows
        std::printf("%s failed: %s (errno %d)\n", std::string(error.operation()).c_str(),
                    std::string(error.message()).c_str(), error.sys_errno());
    }
  }
  // [/guide:error_handling]
  expect(first != nullptr && first->id() == 0, "the first vCPU is unaffected");
  std::printf("ok\n");
  return 0;
}
