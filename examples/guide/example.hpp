#pragma once
// What the guide's examples (docs/guide.md) share: opening the backend named on the command line, and
// two helpers that keep each step of an example on one line. Every example exits 0 when it saw what
// it checks, 77 when the backend is not available on this host (CTest counts that as skipped), and 1
// with a message otherwise.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <hv/backend_registry.hpp>
#include <hv/builtin_backends.hpp>

namespace guide {

// [guide:must]
// Ends the program with the error when a step failed; otherwise the step's value.
template <class T>
T must(hv::Result<T> result, std::string_view step) {
  if (!result) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(step.size()), step.data(), result.error().to_string().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

// Ends the program when something the example demonstrates did not happen.
inline void expect(bool holds, std::string_view what) {
  if (!holds) {
    std::fprintf(stderr, "FAILED: %.*s\n", static_cast<int>(what.size()), what.data());
    std::exit(1);
  }
}
// [/guide:must]

// The backend named by argv[1] ("kvm" when none is given), or exit 77 when this host cannot open it.
inline std::unique_ptr<hv::Hypervisor> open_backend(int argc, char** argv) {
  hv::register_builtin_backends();  // kvm, mshv, mshv-sim: whatever this hvkit was built with
  const std::string_view name = argc > 1 ? argv[1] : "kvm";
  auto hypervisor = hv::open_hypervisor(name);
  if (!hypervisor && hypervisor.error().kind() == hv::ErrorKind::Unavailable) {
    std::printf("skipped: %s\n", hypervisor.error().to_string().c_str());
    std::exit(77);
  }
  return must(std::move(hypervisor), "open_hypervisor");
}

}  // namespace guide
