#include <cerrno>
#include <fcntl.h>
#include <string>

#include "hv/kvm/kvm.hpp"
#include "kvm_abi.hpp"
#include "kvm_host.hpp"
#include "kvm_ioctl.hpp"
#include "kvm_vcpu.hpp"
#include "kvm_vm.hpp"

namespace hv::kvm {

namespace {

using detail::KvmHost;

struct CapabilityQuery {
  long kvm_cap;  // -1: part of the base API, always present
  const char* kvm_cap_name;
};

CapabilityQuery query_for(Capability c) noexcept {
  switch (c) {
    case Capability::ReadOnlyMemory: return {KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM"};
    case Capability::DirtyLog: return {-1, "KVM_GET_DIRTY_LOG"};
    case Capability::Irqfd: return {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"};
    case Capability::Ioeventfd:
    case Capability::IoeventfdPio: return {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"};  // one capability covers both
    case Capability::MsiSignal: return {KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"};
    case Capability::GsiRouting: return {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"};
    case Capability::InKernelIrqchip: return {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"};
    case Capability::InKernelPit: return {KVM_CAP_PIT2, "KVM_CAP_PIT2"};
    case Capability::Xsave: return {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"};
    case Capability::MaxVcpus: return {KVM_CAP_MAX_VCPUS, "KVM_CAP_MAX_VCPUS"};
    case Capability::MaxMemorySlots: return {KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS"};
    case Capability::VcpuEvents: return {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"};
    case Capability::MpState: return {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"};
    case Capability::Xcrs: return {KVM_CAP_XCRS, "KVM_CAP_XCRS"};
    case Capability::DebugRegisters: return {KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"};
  }
  return {0, nullptr};
}

class KvmHypervisor final : public Hypervisor {
 public:
  explicit KvmHypervisor(std::shared_ptr<const KvmHost> host) : host_(std::move(host)) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "kvm"; }
  [[nodiscard]] std::uint32_t api_version() const noexcept override {
    return static_cast<std::uint32_t>(host_->api_version);
  }

  Result<std::uint64_t> capability(Capability c) const override {
    const auto q = query_for(c);
    if (q.kvm_cap_name == nullptr) return fail(ErrorKind::Unsupported, "capability", "unknown capability");
    if (q.kvm_cap < 0) return std::uint64_t{1};
    const int value = host_->check_extension(q.kvm_cap);
    if (value <= 0) {
      return fail(ErrorKind::Unsupported, std::string("capability ") + std::string(to_string(c)),
                  std::string("KVM_CHECK_EXTENSION(") + q.kvm_cap_name + ") is 0 on this host");
    }
    return static_cast<std::uint64_t>(value);
  }

  Result<std::vector<CpuidEntry>> supported_cpuid() const override { return host_->supported_cpuid(); }

  Result<std::unique_ptr<Vm>> create_vm(const VmOptions& options) override {
    auto vm = detail::KvmVm::create(host_, options);
    if (!vm) return tl::unexpected(vm.error());
    return std::unique_ptr<Vm>(std::move(*vm));
  }

 private:
  std::shared_ptr<const KvmHost> host_;
};

Result<UniqueFd> open_device(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail_errno("open", errno, path);
  return UniqueFd(fd);
}

}  // namespace

BackendAvailability probe(const std::string& device_path) {
  auto fd = open_device(device_path);
  if (!fd) {
    switch (fd.error().sys_errno()) {
      case ENOENT: return {false, "no " + device_path};
      case EACCES:
      case EPERM: return {false, "permission denied on " + device_path};
      default: return {false, fd.error().to_string()};
    }
  }
  auto version = detail::kvm_ioctl(fd->get(), abi::kGetApiVersion, "KVM_GET_API_VERSION");
  if (!version) return {false, version.error().to_string()};
  if (*version != abi::kApiVersion) {
    return {false, "KVM API version " + std::to_string(*version) + ", hvkit needs " + std::to_string(abi::kApiVersion)};
  }
  return {true, {}};
}

Result<std::unique_ptr<Hypervisor>> open(const std::string& device_path) {
  auto fd = open_device(device_path);
  if (!fd) return tl::unexpected(fd.error());
  auto host = std::make_shared<KvmHost>();
  host->fd = std::move(*fd);
  auto version = detail::kvm_ioctl(host->fd.get(), abi::kGetApiVersion, "KVM_GET_API_VERSION");
  if (!version) return tl::unexpected(version.error());
  if (*version != abi::kApiVersion) {
    return fail(ErrorKind::Unsupported, "KVM_GET_API_VERSION",
                "version " + std::to_string(*version) + ", hvkit needs " + std::to_string(abi::kApiVersion));
  }
  host->api_version = *version;
  auto mmap_size = detail::kvm_ioctl(host->fd.get(), abi::kGetVcpuMmapSize, "KVM_GET_VCPU_MMAP_SIZE");
  if (!mmap_size) return tl::unexpected(mmap_size.error());
  host->vcpu_mmap_size = static_cast<std::size_t>(*mmap_size);
  // kick() relies on kvm_run.immediate_exit (Linux 4.11+): without it a kick can be lost.
  if (host->check_extension(KVM_CAP_IMMEDIATE_EXIT) <= 0) {
    return fail(ErrorKind::Unsupported, "open(kvm)", "KVM_CAP_IMMEDIATE_EXIT is absent (kernel older than 4.11)");
  }
  return std::unique_ptr<Hypervisor>(std::make_unique<KvmHypervisor>(std::move(host)));
}

BackendDescriptor backend_descriptor() {
  return {.name = "kvm", .probe = [] { return probe(); }, .open = [] { return open(); }};
}

Result<void> set_single_step(Vcpu& vcpu, bool enabled) {
  auto* kvm_vcpu = dynamic_cast<detail::KvmVcpu*>(&vcpu);
  if (kvm_vcpu == nullptr) return fail(ErrorKind::InvalidArgument, "kvm::set_single_step", "not a KVM vCPU");
  return kvm_vcpu->set_single_step(enabled);
}

}  // namespace hv::kvm
