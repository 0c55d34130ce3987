#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "hv/mshv/mshv.hpp"
#include "mshv_abi.hpp"
#include "mshv_vm.hpp"

namespace hv::mshv {

namespace {

class MshvHypervisor final : public Hypervisor {
 public:
  MshvHypervisor(std::shared_ptr<MshvSystem> system, std::string name)
      : system_(std::move(system)), name_(std::move(name)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  // There is no version ioctl [docs/mshv-abi.md §2]: hvkit's number for the upstream ABI it speaks (6.15+).
  [[nodiscard]] std::uint32_t api_version() const noexcept override { return 1; }

  Result<std::uint64_t> capability(Capability c) const override {
    switch (c) {
      case Capability::ReadOnlyMemory:
      case Capability::DirtyLog:
      case Capability::Irqfd:
      case Capability::Ioeventfd:
      case Capability::MsiSignal:
      case Capability::InKernelIrqchip:
      // Hyper-V registers [docs/mshv-abi.md §7]: pending interruption and interrupt state, internal
      // activity state, XFEM, DR0-DR3/DR6/DR7.
      case Capability::VcpuEvents:
      case Capability::MpState:
      case Capability::Xcrs:
      case Capability::DebugRegisters: return 1;
      case Capability::GsiRouting: return abi::kMaxGuestIrqs;
      case Capability::MaxVcpus: return abi::kMaxVps;
      case Capability::IoeventfdPio: return fail(ErrorKind::Unsupported, "capability", "MSHV ioeventfds are MMIO only");
      case Capability::InKernelPit: return fail(ErrorKind::Unsupported, "capability", "MSHV has no in-hypervisor PIT");
      case Capability::Xsave:
        return fail(ErrorKind::Unsupported, "capability", "XSAVE state is not implemented on MSHV yet");
      case Capability::MaxMemorySlots:
        return fail(ErrorKind::Unsupported, "capability", "the MSHV ABI states no slot limit");
    }
    return fail(ErrorKind::Unsupported, "capability", "unknown capability");
  }

  Result<std::vector<CpuidEntry>> supported_cpuid() const override {
    return fail(ErrorKind::Unsupported, "Hypervisor::supported_cpuid",
                "MSHV answers CPUID per VP only (HVCALL_GET_VP_CPUID_VALUES)");
  }

  Result<std::unique_ptr<Vm>> create_vm(const VmOptions& options) override {
    auto vm = detail::MshvVm::create(system_, options);
    if (!vm) return tl::unexpected(vm.error());
    return std::unique_ptr<Vm>(std::move(*vm));
  }

 private:
  std::shared_ptr<MshvSystem> system_;
  std::string name_;
};

}  // namespace

BackendAvailability probe(const std::string& device_path) {
  if (::access(device_path.c_str(), F_OK) != 0) {
    return {false, "no " + device_path + " (Linux is not running as the Hyper-V root partition)"};
  }
  auto system = real_system(device_path);
  const int fd = system->open_device();
  if (fd < 0) return {false, device_path + ": " + std::strerror(-fd)};
  system->close(fd);
  return {true, {}};
}

Result<std::unique_ptr<Hypervisor>> open(std::shared_ptr<MshvSystem> system, std::string name) {
  if (!system) return fail(ErrorKind::InvalidArgument, "mshv::open", "no system");
  const int fd = system->open_device();
  if (fd < 0) return fail(ErrorKind::Unavailable, "mshv::open", system->describe() + ": " + std::strerror(-fd));
  system->close(fd);
  return std::unique_ptr<Hypervisor>(new MshvHypervisor(std::move(system), std::move(name)));
}

BackendDescriptor backend_descriptor() {
  return {.name = "mshv", .probe = [] { return probe(); }, .open = [] { return open(real_system(), "mshv"); }};
}

}  // namespace hv::mshv
