// The simulator's descriptor table and ioctl dispatch ([§n] cites docs/mshv-abi.md): which requests
// each kind of descriptor accepts [§2], and the kernel's answer for everything else (ENOTTY for an
// unknown request, EBADF for an unknown descriptor).
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <variant>
#include <vector>

#include "hv/kvm/kvm.hpp"
#include "hv/mshv/simulator.hpp"
#include "mshv_abi.hpp"
#include "mshv_register_page.hpp"
#include "sim_partition.hpp"
#include "sim_vp.hpp"

namespace hv::mshv {

namespace {

struct DeviceHandle {};
using Handle = std::variant<DeviceHandle, std::shared_ptr<sim::Partition>, std::shared_ptr<sim::Vp>>;

// A mapping of a VP's register page: the VP's own storage, kept alive by the mapping as the kernel's
// page reference keeps an mmap()ed page.
class SimMappedPage final : public MappedPage {
 public:
  explicit SimMappedPage(std::shared_ptr<sim::RegisterPageStorage> storage) : storage_(std::move(storage)) {}
  [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept override { return storage_->bytes; }

 private:
  std::shared_ptr<sim::RegisterPageStorage> storage_;
};

class SimSystem final : public MshvSystem {
 public:
  SimSystem(std::unique_ptr<Hypervisor> kvm, SimulatorOptions options) : kvm_(std::move(kvm)), options_(options) {}

  // Linux mshv_vp_mmap: only a VP descriptor can be mapped (the others have no mmap: ENODEV); offset
  // REGISTERS gives the register page, or ENODEV for a VP without one; INTERCEPT_MESSAGE is not
  // simulated (ENODEV) and GHCB exists only in encrypted partitions (ENODEV); any other offset is EINVAL.
  PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override {
    Handle handle;
    {
      std::lock_guard lock(mutex_);
      auto it = handles_.find(vp_fd);
      if (it == handles_.end()) return {nullptr, EBADF};
      handle = it->second;
    }
    const auto* vp = std::get_if<std::shared_ptr<sim::Vp>>(&handle);
    if (vp == nullptr) return {nullptr, ENODEV};
    if (page_offset > abi::kVpMmapOffsetGhcb) return {nullptr, EINVAL};
    if (page_offset != abi::kVpMmapOffsetRegisters || !options_.register_page) return {nullptr, ENODEV};
    std::unique_ptr<MappedPage> page(new (std::nothrow) SimMappedPage((*vp)->register_page()));
    if (!page) return {nullptr, ENOMEM};
    return {std::move(page), 0};
  }

  int open_device() noexcept override { return add(DeviceHandle{}); }

  void close(int fd) noexcept override {
    std::lock_guard lock(mutex_);
    handles_.erase(fd);
  }

  [[nodiscard]] std::string describe() const override { return "mshv-sim"; }

  void inject_interruption_pending() noexcept { faults_->interruption_pending = true; }

  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override {
    Handle handle;
    {
      std::lock_guard lock(mutex_);
      auto it = handles_.find(fd);
      if (it == handles_.end()) return -EBADF;
      handle = it->second;
    }
    if (arg == nullptr && request != abi::kInitializePartition) return -EFAULT;
    if (std::holds_alternative<DeviceHandle>(handle)) return device_ioctl(request, arg);
    if (auto* p = std::get_if<std::shared_ptr<sim::Partition>>(&handle)) return partition_ioctl(**p, request, arg);
    return vp_ioctl(*std::get<std::shared_ptr<sim::Vp>>(handle), request, arg);
  }

 private:
  int add(Handle handle) {
    std::lock_guard lock(mutex_);
    // Numbers far above any real descriptor: a stray real syscall on one fails with EBADF.
    const int fd = next_fd_++;
    handles_[fd] = std::move(handle);
    return fd;
  }

  long device_ioctl(std::uint32_t request, void* arg) {
    if (request != abi::kCreatePartition) return -ENOTTY;
    abi::CreatePartition args{};
    std::memcpy(&args, arg, sizeof args);
    // The simulator models a 6.15-6.18 kernel: three flag bits, no v2 struct, isolation NONE [§3.1].
    if ((args.pt_flags & ~abi::kPtFlagsMask618) != 0 || args.pt_isolation != abi::kPtIsolationNone) return -EINVAL;
    VmOptions options;
    options.in_kernel_irqchip = (args.pt_flags & (1ULL << abi::kPtBitLapic)) != 0;
    auto vm = kvm_->create_vm(options);
    if (!vm) return -ENOMEM;
    // The simulated hypervisor's own CPUID: what KVM supports, without KVM's paravirtual leaves
    // (0x40000000-0x400000FF), which a Hyper-V partition does not show. What real MSHV answers there with
    // SYNTHETIC_PROC_FEATURES = 0 is not known (docs/mshv.md).
    auto cpuid = kvm_->supported_cpuid();
    std::vector<CpuidEntry> defaults = cpuid ? *cpuid : std::vector<CpuidEntry>{};
    std::erase_if(defaults, [](const CpuidEntry& e) { return e.function >= 0x40000000 && e.function <= 0x400000ff; });
    return add(std::make_shared<sim::Partition>(args.pt_flags, std::move(*vm), std::move(defaults), faults_));
  }

  long partition_ioctl(sim::Partition& p, std::uint32_t request, void* arg) {
    switch (request) {
      case abi::kInitializePartition: return p.initialize();
      case abi::kCreateVp: {
        abi::CreateVp args{};
        std::memcpy(&args, arg, sizeof args);
        std::shared_ptr<sim::Vp> vp;
        if (long r = p.create_vp(args, vp); r != 0) return r;
        vp->set_register_page_valid(options_.register_page_valid);
        return add(std::move(vp));
      }
      case abi::kSetGuestMemory: {
        abi::UserMemRegion args{};
        std::memcpy(&args, arg, sizeof args);
        return p.set_guest_memory(args);
      }
      case abi::kIrqfd: {
        abi::UserIrqfd args{};
        std::memcpy(&args, arg, sizeof args);
        return p.irqfd(args);
      }
      case abi::kIoeventfd: {
        abi::UserIoeventfd args{};
        std::memcpy(&args, arg, sizeof args);
        return p.ioeventfd(args);
      }
      case abi::kSetMsiRouting: return p.set_msi_routing(arg);
      case abi::kGetGpapAccessBitmap: {
        abi::GpapAccessBitmap args{};
        std::memcpy(&args, arg, sizeof args);
        return p.gpap_access_bitmap(args);
      }
      case abi::kRootHvcall: return hvcall(p, arg, false);
      default: return -ENOTTY;
    }
  }

  long vp_ioctl(sim::Vp& vp, std::uint32_t request, void* arg) {
    switch (request) {
      case abi::kRunVp: {
        abi::RunVp out{};
        const long r = vp.run(out);
        if (r == 0) std::memcpy(arg, &out, sizeof out);
        return r;
      }
      case abi::kGetVpState: {
        abi::GetSetVpState args{};
        std::memcpy(&args, arg, sizeof args);
        const long r = vp.get_state(args);
        std::memcpy(arg, &args, sizeof args);  // buf_sz is written back either way [§4]
        return r;
      }
      case abi::kSetVpState: {
        abi::GetSetVpState args{};
        std::memcpy(&args, arg, sizeof args);
        return vp.set_state(args);
      }
      case abi::kRootHvcall: return hvcall(*vp.partition(), arg, true);
      default: return -ENOTTY;
    }
  }

  static long hvcall(sim::Partition& p, void* arg, bool via_vp) {
    abi::RootHvcall call{};
    std::memcpy(&call, arg, sizeof call);
    const long r = p.hvcall(call, via_vp);
    std::memcpy(arg, &call, sizeof call);  // status, reps and the output are always written back [§5]
    return r;
  }

  std::unique_ptr<Hypervisor> kvm_;
  SimulatorOptions options_;
  std::mutex mutex_;
  std::map<int, Handle> handles_;
  std::shared_ptr<sim::FaultInjection> faults_ = std::make_shared<sim::FaultInjection>();
  int next_fd_ = 1 << 24;
};

}  // namespace

BackendAvailability probe_simulator() {
  auto kvm = hv::kvm::probe();
  if (!kvm.available) return {false, "mshv-sim runs on KVM: " + kvm.reason};
  return {true, {}};
}

Result<void> sim_inject_interruption_pending(MshvSystem& system) {
  auto* sim = dynamic_cast<SimSystem*>(&system);
  if (sim == nullptr)
    return fail(ErrorKind::InvalidArgument, "mshv-sim", "fault injection on a system that is not mshv-sim");
  sim->inject_interruption_pending();
  return {};
}

Result<std::shared_ptr<MshvSystem>> make_simulator(SimulatorOptions options) {
  auto kvm = hv::kvm::open();
  if (!kvm) return tl::unexpected(kvm.error());
  return std::shared_ptr<MshvSystem>(std::make_shared<SimSystem>(std::move(*kvm), options));
}

}  // namespace hv::mshv
