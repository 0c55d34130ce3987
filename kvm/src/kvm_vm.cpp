#include "kvm_vm.hpp"

#include <algorithm>
#include <string>

#include <gsl/narrow>

#include "kvm_abi.hpp"
#include "kvm_ioctl.hpp"
#include "kvm_kick_signal.hpp"
#include "kvm_var_struct.hpp"
#include "kvm_vcpu.hpp"

namespace hv::kvm::detail {

namespace {
// Intel VMX needs three pages for the real-mode TSS below 4 GiB; this is where QEMU puts them.
constexpr unsigned long kTssAddress = 0xfffbd000;

// Leaf 1 EBX[31:24] and the x2APIC leaves' EDX carry the APIC id the guest reads for itself.
void set_apic_id(std::vector<CpuidEntry>& cpuid, std::uint32_t id) {
  for (auto& e : cpuid) {
    if (e.function == 1) e.ebx = (e.ebx & 0x00ffffffU) | (id << 24);
    if (e.function == 0xb || e.function == 0x1f) e.edx = id;
  }
}

Result<void> ok_or(Result<int> r) {
  if (!r) return tl::unexpected(std::move(r.error()));
  return {};
}
}  // namespace

KvmVm::KvmVm(std::shared_ptr<const KvmHost> host, UniqueFd fd, const VmOptions& options)
    : host_(std::move(host)),
      fd_(std::move(fd)),
      options_(options),
      read_only_memory_(host_->check_extension(KVM_CAP_READONLY_MEM) > 0) {
  const int slots = host_->check_extension(KVM_CAP_NR_MEMSLOTS);
  max_slots_ = slots > 0 ? static_cast<std::uint32_t>(slots) : 32U;
  const int max_id = host_->check_extension(KVM_CAP_MAX_VCPU_ID);
  const int max_vcpus = host_->check_extension(KVM_CAP_MAX_VCPUS);
  max_vcpu_id_ = static_cast<std::uint32_t>(max_id > 0 ? max_id : (max_vcpus > 0 ? max_vcpus : 4));
}

Result<std::unique_ptr<KvmVm>> KvmVm::create(std::shared_ptr<const KvmHost> host, const VmOptions& options) {
  if (options.in_kernel_pit && !options.in_kernel_irqchip) {
    return fail(ErrorKind::InvalidArgument, "create_vm", "in_kernel_pit requires in_kernel_irqchip");
  }
  auto kick_signal = resolve_kick_signal(options, default_kick_signal());
  if (!kick_signal) return tl::unexpected(kick_signal.error());
  VmOptions resolved = options;
  resolved.kick_signal = *kick_signal;
  auto fd = kvm_ioctl(host->fd.get(), abi::kCreateVm, "KVM_CREATE_VM", 0UL);
  if (!fd) return tl::unexpected(fd.error());
  UniqueFd vm_fd(*fd);
  if (host->check_extension(KVM_CAP_SET_TSS_ADDR) > 0) {
    if (auto r = kvm_ioctl(vm_fd.get(), abi::kSetTssAddr, "KVM_SET_TSS_ADDR", kTssAddress); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (options.in_kernel_irqchip) {
    if (auto r = kvm_ioctl(vm_fd.get(), abi::kCreateIrqchip, "KVM_CREATE_IRQCHIP"); !r)
      return tl::unexpected(r.error());
  }
  if (options.in_kernel_pit) {
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    if (auto r = kvm_ioctl(vm_fd.get(), abi::kCreatePit2, "KVM_CREATE_PIT2", &pit); !r)
      return tl::unexpected(r.error());
  }
  return std::unique_ptr<KvmVm>(new KvmVm(std::move(host), std::move(vm_fd), resolved));
}

// --- memory ----------------------------------------------------------------------------------------

Result<void> KvmVm::set_user_memory_region(std::uint32_t slot, const Mapping& mapping, bool remove) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = (mapping.read_only ? KVM_MEM_READONLY : 0U) | (mapping.log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0U);
  region.guest_phys_addr = mapping.region->guest_base();
  region.memory_size = remove ? 0 : mapping.region->size();
  // The kernel takes the host address as an integer; the region keeps that memory mapped for as long
  // as this Vm holds it in mappings_.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the ABI field is the address as an integer
  region.userspace_addr = reinterpret_cast<std::uintptr_t>(mapping.region->host().data());
  return ok_or(kvm_ioctl(fd_.get(), abi::kSetUserMemoryRegion, "KVM_SET_USER_MEMORY_REGION", &region));
}

Result<MemorySlot> KvmVm::map_region(std::shared_ptr<GuestRegion> region, MapOptions options) {
  constexpr const char* op = "Vm::map_memory";
  if (!region) return fail(ErrorKind::InvalidArgument, op, "null region");
  if (options.read_only && !read_only_memory_) {
    return fail(ErrorKind::Unsupported, op, "KVM_CAP_READONLY_MEM is absent on this host");
  }
  std::lock_guard lock(mutex_);
  for (const auto& [id, m] : mappings_) {
    if (m.region->range().overlaps(region->range())) {
      return fail(ErrorKind::Overlap, op,
                  "region " + hex(region->guest_base()) + "+" + hex(region->size()) + " overlaps slot " +
                      std::to_string(id) + " at " + hex(m.region->guest_base()) + "+" + hex(m.region->size()));
    }
  }
  std::uint32_t slot = 0;
  while (mappings_.contains(slot)) ++slot;  // lowest free id; bounded by mappings_.size()
  if (slot >= max_slots_) {
    return fail(ErrorKind::ResourceExhausted, op, "all " + std::to_string(max_slots_) + " memory slots are in use");
  }
  Mapping mapping{std::move(region), options.read_only, options.log_dirty};
  if (auto r = set_user_memory_region(slot, mapping, false); !r) return tl::unexpected(r.error());
  mappings_.emplace(slot, std::move(mapping));
  return MemorySlot{slot};
}

Result<void> KvmVm::unmap_region(MemorySlot slot) {
  std::lock_guard lock(mutex_);
  auto it = mappings_.find(slot.id);
  if (it == mappings_.end()) {
    return fail(ErrorKind::NotFound, "Vm::unmap_memory", "no memory is mapped in slot " + std::to_string(slot.id));
  }
  if (auto r = set_user_memory_region(slot.id, it->second, true); !r) return r;
  mappings_.erase(it);  // the region's memory may be released only now that KVM no longer maps it
  return {};
}

Result<void> KvmVm::set_dirty_logging(MemorySlot slot, bool on) {
  std::lock_guard lock(mutex_);
  auto it = mappings_.find(slot.id);
  if (it == mappings_.end()) {
    return fail(ErrorKind::NotFound, "Vm::dirty_log", "no memory is mapped in slot " + std::to_string(slot.id));
  }
  Mapping changed = it->second;
  changed.log_dirty = on;
  if (auto r = set_user_memory_region(slot.id, changed, false); !r) return r;
  it->second = changed;
  return {};
}

Result<void> KvmVm::start_dirty_log(MemorySlot slot) { return set_dirty_logging(slot, true); }
Result<void> KvmVm::stop_dirty_log(MemorySlot slot) { return set_dirty_logging(slot, false); }

Result<DirtyBitmap> KvmVm::fetch_guest_dirty_log(MemorySlot slot) {
  std::lock_guard lock(mutex_);
  auto it = mappings_.find(slot.id);
  if (it == mappings_.end()) {
    return fail(ErrorKind::NotFound, "Vm::fetch_and_clear_dirty_log",
                "no memory is mapped in slot " + std::to_string(slot.id));
  }
  if (!it->second.log_dirty) {
    return fail(ErrorKind::InvalidArgument, "Vm::fetch_and_clear_dirty_log",
                "dirty logging is not enabled on slot " + std::to_string(slot.id));
  }
  DirtyBitmap bitmap;
  bitmap.guest_base = it->second.region->guest_base();
  bitmap.pages = it->second.region->size() / kPageSize;
  bitmap.bits.assign((bitmap.pages + 63) / 64, 0);
  kvm_dirty_log log{};
  log.slot = slot.id;
  log.dirty_bitmap = bitmap.bits.data();  // KVM writes ceil(pages / 64) * 8 bytes: exactly bits' size
  if (auto r = kvm_ioctl(fd_.get(), abi::kGetDirtyLog, "KVM_GET_DIRTY_LOG", &log); !r) return tl::unexpected(r.error());
  return bitmap;
}

// --- vCPUs -----------------------------------------------------------------------------------------

Result<std::unique_ptr<Vcpu>> KvmVm::create_vcpu(std::uint32_t id) {
  constexpr const char* op = "Vm::create_vcpu";
  std::lock_guard lock(mutex_);
  if (id >= max_vcpu_id_) {
    return fail(ErrorKind::OutOfRange, op,
                "vcpu id " + std::to_string(id) + " is not below " + std::to_string(max_vcpu_id_));
  }
  if (vcpu_ids_.contains(id)) return fail(ErrorKind::AlreadyExists, op, "vcpu " + std::to_string(id) + " exists");
  if (auto sig = install_kick_signal(options_.kick_signal); !sig) return tl::unexpected(sig.error());
  if (default_cpuid_.empty()) {
    auto cpuid = host_->supported_cpuid();
    if (!cpuid) return tl::unexpected(cpuid.error());
    default_cpuid_ = std::move(*cpuid);
  }
  auto fd = kvm_ioctl(fd_.get(), abi::kCreateVcpu, "KVM_CREATE_VCPU", static_cast<unsigned long>(id));
  if (!fd) return tl::unexpected(fd.error());
  UniqueFd vcpu_fd(*fd);
  // KVM cannot destroy a vCPU: the id is taken from here on even if the setup below fails.
  vcpu_ids_.insert(id);
  auto run = KvmRunMapping::map(vcpu_fd.get(), host_->vcpu_mmap_size);
  if (!run) return tl::unexpected(run.error());
  const int xsave2 = host_->check_extension(KVM_CAP_XSAVE2);
  KvmVcpuConfig config{
      .id = id,
      .xsave_size = std::max<std::size_t>(sizeof(abi::Xsave), xsave2 > 0 ? static_cast<std::size_t>(xsave2) : 0),
      .has_xsave = host_->check_extension(KVM_CAP_XSAVE) > 0,
      .has_lapic = options_.in_kernel_irqchip,
      .kick_signal = options_.kick_signal};
  // The vCPU holds the guest memory: KVM keeps mapping the regions' host pages for as long as the
  // vCPU fd lives (it pins the VM), also after this Vm is destroyed.
  auto vcpu = std::make_unique<KvmVcpu>(std::move(vcpu_fd), std::move(*run), config, memory());
  // A new KVM vCPU reports no CPUID features at all (not even long mode, which KVM then refuses in
  // EFER); start from what the host supports, with this vCPU's APIC id. VMMs override with set_cpuid.
  auto cpuid = default_cpuid_;
  set_apic_id(cpuid, id);
  if (auto r = vcpu->set_cpuid(cpuid); !r) return tl::unexpected(r.error());
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

// --- interrupts and doorbells ----------------------------------------------------------------------

Result<void> KvmVm::require_irqchip(const char* operation) const {
  if (!options_.in_kernel_irqchip) {
    return fail(ErrorKind::Unsupported, operation, "the VM was created without in_kernel_irqchip");
  }
  return {};
}

namespace {
Result<__u32> event_fd_number(const EventFd& event, const char* operation) {
  if (event.fd() < 0)
    return fail(ErrorKind::InvalidArgument, operation, "the EventFd holds no descriptor (moved from?)");
  return static_cast<__u32>(event.fd());
}
}  // namespace

Result<void> KvmVm::irqfd(const EventFd& event, std::uint32_t gsi, bool deassign) {
  const char* op = deassign ? "Vm::unregister_irqfd" : "Vm::register_irqfd";
  if (auto r = require_irqchip(op); !r) return r;
  auto fd = event_fd_number(event, op);
  if (!fd) return tl::unexpected(fd.error());
  kvm_irqfd irqfd{};
  irqfd.fd = *fd;
  irqfd.gsi = gsi;
  irqfd.flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0U;
  return ok_or(kvm_ioctl(fd_.get(), abi::kIrqfd, deassign ? "KVM_IRQFD(deassign)" : "KVM_IRQFD", &irqfd));
}

Result<void> KvmVm::register_irqfd(const EventFd& event, std::uint32_t gsi) { return irqfd(event, gsi, false); }
Result<void> KvmVm::unregister_irqfd(const EventFd& event, std::uint32_t gsi) { return irqfd(event, gsi, true); }

Result<void> KvmVm::ioeventfd(const EventFd& event, const IoEventAddress& where, bool deassign) {
  constexpr const char* op = "Vm::ioeventfd";
  const auto len = where.length;
  if (len != 1 && len != 2 && len != 4 && len != 8) {
    return fail(ErrorKind::InvalidArgument, op, "length must be 1, 2, 4 or 8, got " + std::to_string(len));
  }
  auto range = AddressRange::make(where.address, len, op);
  if (!range) return tl::unexpected(range.error());
  if (where.space == IoEventSpace::Pio && (range->last() > 0xffff || len == 8)) {
    return fail(ErrorKind::OutOfRange, op,
                "port range " + hex(where.address) + "+" + std::to_string(len) + " is not valid I/O space");
  }
  if (where.datamatch && len < 8 && (*where.datamatch >> (len * 8)) != 0) {
    return fail(ErrorKind::InvalidArgument, op,
                "datamatch " + hex(*where.datamatch) + " does not fit in " + std::to_string(len) + " bytes");
  }
  auto fd = event_fd_number(event, op);
  if (!fd) return tl::unexpected(fd.error());
  kvm_ioeventfd k{};
  k.addr = where.address;
  k.len = len;
  k.fd = static_cast<__s32>(*fd);
  k.datamatch = where.datamatch.value_or(0);
  k.flags = (where.datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0U) |
            (where.space == IoEventSpace::Pio ? KVM_IOEVENTFD_FLAG_PIO : 0U) |
            (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0U);
  return ok_or(kvm_ioctl(fd_.get(), abi::kIoeventfd, deassign ? "KVM_IOEVENTFD(deassign)" : "KVM_IOEVENTFD", &k));
}

Result<void> KvmVm::register_ioeventfd(const EventFd& event, const IoEventAddress& where) {
  return ioeventfd(event, where, false);
}

Result<void> KvmVm::unregister_ioeventfd(const EventFd& event, const IoEventAddress& where) {
  return ioeventfd(event, where, true);
}

Result<void> KvmVm::signal_msi(const MsiMessage& message) {
  if (auto r = require_irqchip("Vm::signal_msi"); !r) return r;
  kvm_msi msi{};
  msi.address_lo = static_cast<__u32>(message.address);
  msi.address_hi = static_cast<__u32>(message.address >> 32);
  msi.data = message.data;
  auto r = kvm_ioctl(fd_.get(), abi::kSignalMsi, "KVM_SIGNAL_MSI", &msi);
  if (!r) return tl::unexpected(r.error());
  // 0 means the guest blocked the interrupt (e.g. the LAPIC is disabled): the MSI was not delivered.
  if (*r == 0) return fail(ErrorKind::Busy, "KVM_SIGNAL_MSI", "the guest did not accept the interrupt");
  return {};
}

Result<void> KvmVm::set_gsi_routing(std::span<const GsiRoute> routes) {
  if (auto r = require_irqchip("Vm::set_gsi_routing"); !r) return r;
  const int max_routes = host_->check_extension(KVM_CAP_IRQ_ROUTING);
  if (routes.size() > static_cast<std::size_t>(std::max(max_routes, 0))) {
    return fail(ErrorKind::OutOfRange, "Vm::set_gsi_routing",
                std::to_string(routes.size()) + " routes exceed the host's " + std::to_string(max_routes));
  }
  VarStruct<abi::IrqRoutingHeader, kvm_irq_routing_entry> table(routes.size());
  table.header()->nr = gsl::narrow<__u32>(routes.size());
  for (std::size_t i = 0; i < routes.size(); ++i) {
    kvm_irq_routing_entry& e = table.entries()[i];
    e = {};
    if (const auto* pin = std::get_if<IrqchipPinRoute>(&routes[i])) {
      e.gsi = pin->gsi;
      e.type = KVM_IRQ_ROUTING_IRQCHIP;
      e.u.irqchip = {.irqchip = pin->chip, .pin = pin->pin};
    } else {
      const auto& msi = std::get<MsiRoute>(routes[i]);
      e.gsi = msi.gsi;
      e.type = KVM_IRQ_ROUTING_MSI;
      e.u.msi.address_lo = static_cast<__u32>(msi.message.address);
      e.u.msi.address_hi = static_cast<__u32>(msi.message.address >> 32);
      e.u.msi.data = msi.message.data;
    }
  }
  return ok_or(kvm_ioctl(fd_.get(), abi::kSetGsiRouting, "KVM_SET_GSI_ROUTING", table.data()));
}

Result<void> KvmVm::set_irq_line(std::uint32_t gsi, bool level) {
  if (auto r = require_irqchip("Vm::set_irq_line"); !r) return r;
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1U : 0U;
  return ok_or(kvm_ioctl(fd_.get(), abi::kIrqLine, "KVM_IRQ_LINE", &irq));
}

}  // namespace hv::kvm::detail
