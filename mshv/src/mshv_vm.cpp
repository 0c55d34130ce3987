// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "mshv_vm.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <variant>

#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace {

constexpr std::uint8_t bit(std::uint8_t n) { return static_cast<std::uint8_t>(1U << n); }

// A hypervisor status for a well-formed ASSERT_VIRTUAL_INTERRUPT: the target could not take the
// interrupt. A malformed call (bad input or code) is the backend's bug and stays an error.
// Only HV_STATUS_INVALID_VP_STATE, the status mshv-sim gives for a software-disabled LAPIC: any other
// status (a bad parameter such as an INIT or SIPI delivery mode, no memory, access denied) is an error
// the caller must see. If the probe finds that Hyper-V answers the disabled-LAPIC case with another
// status, that one joins it here.
bool undeliverable(const Error& error) {
  const auto status = error.hypervisor_status();
  return status && *status == abi::kHvStatusInvalidVpState;
}

}  // namespace

Result<std::unique_ptr<MshvVm>> MshvVm::create(const std::shared_ptr<MshvSystem>& system, const VmOptions& options) {
  constexpr const char* op = "MSHV_CREATE_PARTITION";
  if (options.in_kernel_pit)
    return fail(ErrorKind::Unsupported, "Hypervisor::create_vm", "MSHV has no in-hypervisor PIT");
  auto kick_signal = resolve_kick_signal(options, default_mshv_kick_signal());
  if (!kick_signal) return tl::unexpected(kick_signal.error());
  VmOptions resolved = options;
  resolved.kick_signal = *kick_signal;
  const int device_fd = system->open_device();
  if (device_fd < 0) return fail_errno("open " + system->describe(), -device_fd);
  const MshvFd device(system, device_fd);
  abi::CreatePartition args{};
  // GPA super pages (2 MiB mappings where the memory allows), as Cloud Hypervisor, QEMU and OpenVMM
  // request. The hypervisor's LAPIC (and x2APIC) is what interrupts are delivered to: the MSHV
  // counterpart of an in-kernel irqchip. Only flags every 6.15+ kernel knows [§3.1].
  args.pt_flags = 1ULL << abi::kPtBitGpaSuperPages;
  if (options.in_kernel_irqchip) args.pt_flags |= (1ULL << abi::kPtBitLapic) | (1ULL << abi::kPtBitX2apic);
  args.pt_isolation = abi::kPtIsolationNone;
  auto fd = device.call(abi::kCreatePartition, &args, op);
  if (!fd) return tl::unexpected(fd.error());
  auto vm = std::unique_ptr<MshvVm>(new MshvVm(MshvFd(system, static_cast<int>(*fd)), resolved));
  if (auto r = vm->set_up_partition(); !r) return tl::unexpected(r.error());
  return vm;
}

// The order every upstream VMM follows (docs/mshv.md "Partition setup").
Result<void> MshvVm::set_up_partition() {
  // Early property, only settable before INITIALIZE: no Hyper-V enlightenments for the guest (the
  // synthetic feature bank off, as Hyperlight sets it), the same guest view as hvkit's KVM backend.
  if (auto r = set_property(abi::kPropertySyntheticProcFeatures, 0, "set SYNTHETIC_PROC_FEATURES"); !r) return r;
  if (auto r = partition_.call(abi::kInitializePartition, nullptr, "MSHV_INITIALIZE_PARTITION"); !r) {
    return tl::unexpected(r.error());
  }
  // After INITIALIZE, as Cloud Hypervisor does: an MSR the hypervisor does not implement reads 0 and
  // ignores writes instead of raising #GP in the guest.
  return set_property(abi::kPropertyUnimplementedMsrAction, abi::kUnimplementedMsrActionIgnoreWriteReadZero,
                      "set UNIMPLEMENTED_MSR_ACTION");
}

Result<void> MshvVm::set_property(std::uint32_t code, std::uint64_t value, const char* operation) const {
  abi::HvInputSetPartitionProperty in{};
  in.property_code = code;
  in.property_value = value;
  std::uint8_t bytes[sizeof in];
  std::memcpy(bytes, &in, sizeof in);
  auto r = hypercall(partition_, abi::kHvcallSetPartitionProperty, 0, bytes, {}, operation);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<void> MshvVm::set_memory(const GuestRegion& region, std::uint8_t flags, const char* operation) const {
  abi::UserMemRegion r{};
  r.size = region.size();
  r.guest_pfn = region.guest_base() >> 12;
  // The kernel maps (and pins) this host range into the partition by address.
  r.userspace_addr = user_address(region.host().data());
  r.flags = flags;
  auto done = partition_.call(abi::kSetGuestMemory, &r, operation);
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<MemorySlot> MshvVm::map_region(std::shared_ptr<GuestRegion> region, MapOptions options) {
  constexpr const char* op = "Vm::map_memory";
  if (!region) return fail(ErrorKind::InvalidArgument, op, "no region");
  std::lock_guard lock(mutex_);
  if (memory_->overlaps(region->guest_base(), region->size())) {
    return fail(ErrorKind::Overlap, op, "region at " + hex(region->guest_base()) + " overlaps a mapped region");
  }
  // Read and execute always; WRITABLE unless read-only, whose writes then arrive as GPA intercepts [§4].
  const std::uint8_t flags = static_cast<std::uint8_t>(bit(abi::kSetMemBitExecutable) |
                                                       (options.read_only ? 0 : bit(abi::kSetMemBitWritable)));
  if (auto r = set_memory(*region, flags, "MSHV_SET_GUEST_MEMORY"); !r) {
    if (r.error().sys_errno() == EEXIST) return fail(ErrorKind::Overlap, op, r.error().to_string());
    return tl::unexpected(r.error());
  }
  const std::uint32_t slot = next_slot_++;
  memory_->add(slot, region, !options.read_only);
  slots_[slot] = options.read_only;
  if (options.log_dirty) {
    if (auto on = enable_dirty_log_locked(slot); !on) {
      // Undo the mapping: the caller gets no slot to unmap it with. Should the unmap fail too, the
      // dirty-log error is still the one to report (the partition is then broken either way).
      (void)set_memory(*region, bit(abi::kSetMemBitUnmap), "MSHV_SET_GUEST_MEMORY (unmap)");
      memory_->remove(slot);
      slots_.erase(slot);
      return tl::unexpected(on.error());
    }
  }
  return MemorySlot{slot};
}

Result<void> MshvVm::unmap_region(MemorySlot slot) {
  std::lock_guard lock(mutex_);
  auto region = memory_->region(slot.id);
  if (!region) return fail(ErrorKind::NotFound, "Vm::unmap_memory", "no slot " + std::to_string(slot.id));
  // The last logged slot turns tracking off first, while the slot is still mapped: a refusal then
  // leaves everything as it was (the slot mapped and logged), where unmapping first would have lost
  // the slot with tracking still on.
  const bool last_logged = dirty_slots_.size() == 1 && dirty_slots_.count(slot.id) == 1;
  if (last_logged) {
    if (auto r = tracking_off_locked(); !r) return r;
  }
  const std::uint8_t flags = static_cast<std::uint8_t>(bit(abi::kSetMemBitUnmap));
  if (auto r = set_memory(*region, flags, "MSHV_SET_GUEST_MEMORY (unmap)"); !r) {
    // Still mapped and logged: tracking back on. Every page is dirty now (set before turning it off,
    // and again by the hypervisor on enabling), so the next fetch reports too much, never too little.
    if (last_logged && set_property(abi::kPropertyGpaPageAccessTracking, 1, "enable dirty tracking")) tracking_ = true;
    return r;
  }
  memory_->remove(slot.id);
  slots_.erase(slot.id);
  dirty_slots_.erase(slot.id);
  return {};
}

Result<std::unique_ptr<Vcpu>> MshvVm::create_vcpu(std::uint32_t id) {
  constexpr const char* op = "Vm::create_vcpu";
  if (id >= abi::kMaxVps)
    return fail(ErrorKind::OutOfRange, op, "vCPU id " + std::to_string(id) + " >= " + std::to_string(abi::kMaxVps));
  if (auto sig = install_mshv_kick_signal(options_.kick_signal); !sig) return tl::unexpected(sig.error());
  std::lock_guard lock(mutex_);
  if (vp_indices_.count(id) != 0) return fail(ErrorKind::AlreadyExists, op, "vCPU " + std::to_string(id) + " exists");
  // Everything that can fail in this process comes before the VP, which MSHV never destroys: a failure
  // here leaves the id free for the next try. Nothing throws (std::thread's system_error is caught).
  std::unique_ptr<MshvVcpu> vcpu(new (std::nothrow) MshvVcpu(id, memory_, options_.kick_signal));
  if (!vcpu) return fail(ErrorKind::ResourceExhausted, op, "out of memory");
  if (auto started = vcpu->start_kick_resender(); !started) return tl::unexpected(started.error());
  abi::CreateVp args{id};
  auto fd = partition_.call(abi::kCreateVp, &args, "MSHV_CREATE_VP");
  if (!fd) return tl::unexpected(fd.error());
  vcpu->attach(MshvFd(partition_.shared_system(), static_cast<int>(*fd)));
  vp_indices_.insert(id);
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

Result<void> MshvVm::require_lapic(const char* operation) const {
  if (!options_.in_kernel_irqchip) {
    return fail(ErrorKind::Unsupported, operation, "needs VmOptions::in_kernel_irqchip (the hypervisor's LAPIC)");
  }
  return {};
}

// The kernel's fast path for a signalled irqfd (Linux drivers/hv/mshv_eventfd.c,
// mshv_try_assert_irq_fast, on root-scheduler hosts) indexes the partition's VP array with the
// route's physical APIC id and dereferences the entry without a NULL check: an irqfd whose route
// names an APIC id with no VP can crash the host. Refused on both sides: routes and irqfds.
// APIC id = VP index, as hvkit creates them (docs/mshv.md).
Result<void> MshvVm::check_irqfd_route_locked(std::uint32_t gsi, std::uint32_t address_lo,
                                              const char* operation) const {
  if ((address_lo & 4) != 0) return {};  // logical destination: the fast path is not taken
  const std::uint32_t apic_id = (address_lo >> 12) & 0xff;
  if (vp_indices_.count(apic_id) != 0) return {};
  return fail(ErrorKind::InvalidArgument, operation,
              "GSI " + std::to_string(gsi) + " routes to APIC id " + std::to_string(apic_id) +
                  ", which has no vCPU: an irqfd signal there can crash the host's MSHV driver; create the vCPU first");
}

Result<void> MshvVm::register_irqfd(const EventFd& event, std::uint32_t gsi) {
  constexpr const char* op = "Vm::register_irqfd";
  if (auto r = require_lapic(op); !r) return r;
  std::lock_guard lock(mutex_);
  if (auto route = routes_.find(gsi); route != routes_.end()) {
    if (auto r = check_irqfd_route_locked(gsi, route->second, op); !r) return r;
  }
  abi::UserIrqfd args{event.fd(), 0, gsi, 0};
  auto r = partition_.call(abi::kIrqfd, &args, "MSHV_IRQFD");
  if (!r) return tl::unexpected(r.error());
  irqfds_.insert({event.fd(), gsi});
  return {};
}

Result<void> MshvVm::unregister_irqfd(const EventFd& event, std::uint32_t gsi) {
  std::lock_guard lock(mutex_);
  abi::UserIrqfd args{event.fd(), 0, gsi, 1U << abi::kIrqfdBitDeassign};
  auto r = partition_.call(abi::kIrqfd, &args, "MSHV_IRQFD (deassign)");
  if (!r) return tl::unexpected(r.error());
  // The kernel answers 0 to a deassign that matches nothing: forget only an irqfd that was registered
  // with this descriptor, so a stray or repeated unregister cannot lift the APIC-id guard of a live one.
  if (auto it = irqfds_.find({event.fd(), gsi}); it != irqfds_.end()) irqfds_.erase(it);
  return {};
}

bool MshvVm::has_irqfd_locked(std::uint32_t gsi) const {
  return std::any_of(irqfds_.begin(), irqfds_.end(), [gsi](const auto& irqfd) { return irqfd.second == gsi; });
}

Result<void> MshvVm::ioeventfd(const EventFd& event, const IoEventAddress& where, bool deassign) const {
  constexpr const char* op = "Vm::register_ioeventfd";
  if (where.space == IoEventSpace::Pio) return fail(ErrorKind::Unsupported, op, "MSHV ioeventfds are MMIO only");
  if (where.length != 1 && where.length != 2 && where.length != 4 && where.length != 8) {
    return fail(ErrorKind::InvalidArgument, op, "length must be 1, 2, 4 or 8");
  }
  abi::UserIoeventfd args{};
  args.addr = where.address;
  args.len = where.length;
  args.fd = event.fd();
  if (where.datamatch) {
    args.datamatch = *where.datamatch;
    args.flags |= 1U << abi::kIoeventfdBitDatamatch;
  }
  if (deassign) args.flags |= 1U << abi::kIoeventfdBitDeassign;
  auto r = partition_.call(abi::kIoeventfd, &args, "MSHV_IOEVENTFD");
  if (!r) {
    if (r.error().sys_errno() == EEXIST) return fail(ErrorKind::AlreadyExists, op, r.error().to_string());
    if (r.error().sys_errno() == ENOENT) return fail(ErrorKind::NotFound, op, r.error().to_string());
    return tl::unexpected(r.error());
  }
  return {};
}

Result<void> MshvVm::register_ioeventfd(const EventFd& event, const IoEventAddress& where) {
  return ioeventfd(event, where, false);
}
Result<void> MshvVm::unregister_ioeventfd(const EventFd& event, const IoEventAddress& where) {
  return ioeventfd(event, where, true);
}

Result<void> MshvVm::signal_msi(const MsiMessage& message) {
  constexpr const char* op = "Vm::signal_msi";
  if (auto r = require_lapic(op); !r) return r;
  if ((message.address >> 32) != 0 || (message.address & 0xfff00000ULL) != 0xfee00000ULL) {
    return fail(ErrorKind::InvalidArgument, op,
                "MSI address " + hex(message.address) + " is not in the 0xfee00000 window");
  }
  // The MSI decoded the way the kernel decodes routed ones [§11], then asserted directly [§6].
  abi::HvInputAssertVirtualInterrupt in{};
  in.control = ((message.data >> 8) & 7) | ((message.data & (1U << 15)) != 0 ? abi::kInterruptControlLevel : 0) |
               ((message.address & 4) != 0 ? abi::kInterruptControlLogical : 0);
  in.dest_addr = (message.address >> 12) & 0xff;
  in.vector = message.data & 0xff;
  std::uint8_t bytes[sizeof in];
  std::memcpy(bytes, &in, sizeof in);
  auto r = hypercall(partition_, abi::kHvcallAssertVirtualInterrupt, 0, bytes, {}, "HVCALL_ASSERT_VIRTUAL_INTERRUPT");
  if (!r && !undeliverable(r.error())) return tl::unexpected(r.error());
  // An interrupt the target cannot take now (its LAPIC still software-disabled, Hyperlight's finding)
  // is dropped, as KVM drops an MSI to a disabled LAPIC and OpenVMM drops a failed request.
  return {};
}

Result<void> MshvVm::set_gsi_routing(std::span<const GsiRoute> routes) {
  constexpr const char* op = "Vm::set_gsi_routing";
  if (auto r = require_lapic(op); !r) return r;
  if (routes.size() > abi::kMaxGuestIrqs) return fail(ErrorKind::InvalidArgument, op, "more than 4096 routes");
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, std::uint32_t> next_routes;
  std::vector<std::uint8_t> table(sizeof(abi::UserIrqTableHeader) + routes.size() * sizeof(abi::UserIrqEntry));
  abi::UserIrqTableHeader header{static_cast<std::uint32_t>(routes.size()), 0};
  std::memcpy(table.data(), &header, sizeof header);
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto* msi = std::get_if<MsiRoute>(&routes[i]);
    if (msi == nullptr)
      return fail(ErrorKind::Unsupported, op, "MSHV has no PIC/IOAPIC pins to route to: MSI routes only");
    if ((msi->message.address >> 32) != 0)
      return fail(ErrorKind::InvalidArgument, op, "MSI address_hi must be 0 on MSHV");
    const abi::UserIrqEntry e{msi->gsi, static_cast<std::uint32_t>(msi->message.address), 0, msi->message.data};
    if (has_irqfd_locked(e.gsi)) {
      if (auto r = check_irqfd_route_locked(e.gsi, e.address_lo, op); !r) return r;
    }
    next_routes[e.gsi] = e.address_lo;
    std::memcpy(table.data() + sizeof header + i * sizeof e, &e, sizeof e);
  }
  auto r = partition_.call(abi::kSetMsiRouting, table.data(), "MSHV_SET_MSI_ROUTING");
  if (!r) return tl::unexpected(r.error());
  routes_ = std::move(next_routes);  // the table is replaced as a whole [§11]
  return {};
}

Result<void> MshvVm::set_irq_line(std::uint32_t, bool) {
  return fail(ErrorKind::Unsupported, "Vm::set_irq_line", "MSHV has no in-hypervisor PIC or IOAPIC");
}

Result<void> MshvVm::start_dirty_log(MemorySlot slot) {
  std::lock_guard lock(mutex_);
  return enable_dirty_log_locked(slot.id);
}

// MSHV_GET_GPAP_ACCESS_BITMAP over a whole slot: the dirty bits into `bytes`, then `op` applied to them.
Result<void> MshvVm::access_bitmap_locked(const GuestRegion& region, std::uint8_t op,
                                          std::vector<std::uint8_t>& bytes) const {
  const std::uint64_t pages = region.size() / kPageSize;
  bytes.assign((pages + 7) / 8, 0);
  abi::GpapAccessBitmap args{};
  args.access_type = abi::kGpapAccessTypeDirty;
  args.access_op = op;
  args.page_count = pages;
  args.gpap_base = region.guest_base() >> 12;
  args.bitmap_ptr = user_address(bytes.data());  // the kernel fills it by address
  auto r = partition_.call(abi::kGetGpapAccessBitmap, &args, "MSHV_GET_GPAP_ACCESS_BITMAP");
  if (!r) return tl::unexpected(r.error());
  return {};
}

// The hypervisor refuses to clear GPA_PAGE_ACCESS_TRACKING while a tracked page's dirty bit is
// clear, so every writable slot is set all dirty first (GPAP op SET), as Cloud Hypervisor
// (hypervisor/src/mshv/mod.rs, stop_dirty_log: "a requirement from Microsoft Hypervisor") and rust-vmm
// mshv-ioctls (src/ioctls/vm.rs, disable_dirty_page_tracking) do. Called only when no slot is logged
// any more, or about to be: setting the bits loses nothing anyone will fetch.
Result<void> MshvVm::tracking_off_locked() {
  if (!tracking_) return {};
  std::vector<std::uint8_t> scratch;
  for (const auto& [slot, read_only] : slots_) {
    // A read-only slot's bits are never cleared by the backend (its fetch does not reach the
    // hypervisor: the guest cannot write it), so they are still set from enabling.
    if (read_only) continue;
    auto region = memory_->region(slot);
    if (!region) continue;
    if (auto r = access_bitmap_locked(*region, abi::kGpapAccessOpSet, scratch); !r) return r;
  }
  if (auto r = set_property(abi::kPropertyGpaPageAccessTracking, 0, "disable dirty tracking"); !r) return r;
  tracking_ = false;
  return {};
}

Result<void> MshvVm::enable_dirty_log_locked(std::uint32_t slot) {
  auto region = memory_->region(slot);
  if (!region) return fail(ErrorKind::NotFound, "Vm::enable_dirty_log", "no slot " + std::to_string(slot));
  if (dirty_slots_.count(slot) != 0) return {};
  // Tracking is partition-wide [§11]: on with the first logged slot.
  const bool turned_on = !tracking_;
  if (turned_on) {
    if (auto r = set_property(abi::kPropertyGpaPageAccessTracking, 1, "enable dirty tracking"); !r) return r;
    tracking_ = true;
  }
  // The first bitmap after enabling reports every page dirty (Hyperlight issue #689), and a slot
  // that was logged before, or mapped while tracking was on, has bits of its own: one fetch with
  // CLEAR starts the slot's log empty, so the first fetch reports exactly what the guest wrote since.
  if (auto it = slots_.find(slot); it != slots_.end() && !it->second) {  // writable
    std::vector<std::uint8_t> scratch;
    if (auto r = access_bitmap_locked(*region, abi::kGpapAccessOpClear, scratch); !r) {
      if (turned_on) (void)tracking_off_locked();  // back as it was; the fetch error is the one to report
      return r;
    }
  }
  dirty_slots_.insert(slot);
  memory_->set_logging(slot, true);
  return {};
}

Result<void> MshvVm::stop_dirty_log(MemorySlot slot) {
  std::lock_guard lock(mutex_);
  if (dirty_slots_.count(slot.id) == 0) return {};
  // Tracking off first: refused, the slot stays logged and nothing has changed.
  if (dirty_slots_.size() == 1) {
    if (auto r = tracking_off_locked(); !r) return r;
  }
  dirty_slots_.erase(slot.id);
  memory_->set_logging(slot.id, false);
  return {};
}

Result<DirtyBitmap> MshvVm::fetch_guest_dirty_log(MemorySlot slot) {
  constexpr const char* op = "Vm::fetch_and_clear_dirty_log";
  std::lock_guard lock(mutex_);
  auto region = memory_->region(slot.id);
  if (!region) return fail(ErrorKind::NotFound, op, "no slot " + std::to_string(slot.id));
  if (dirty_slots_.count(slot.id) == 0)
    return fail(ErrorKind::InvalidArgument, op, "dirty logging is off for this slot");
  // After a failed unmap whose tracking could not be turned back on, the hypervisor would answer
  // with a bitmap nobody kept: refuse rather than report pages clean that may not be.
  if (!tracking_)
    return fail(ErrorKind::Unsupported, op,
                "dirty tracking is off after a failed unmap; stop and restart logging for this slot");
  const std::uint64_t pages = region->size() / kPageSize;
  std::vector<std::uint8_t> bytes((pages + 7) / 8, 0);
  // A read-only slot: the guest cannot write it and the backend does not, so nothing is dirty, and its
  // bits stay set for turning tracking off (Cloud Hypervisor tracks read-only slots too).
  const auto kind = slots_.find(slot.id);
  const bool read_only = kind != slots_.end() && kind->second;
  if (!read_only) {
    if (auto r = access_bitmap_locked(*region, abi::kGpapAccessOpClear, bytes); !r) return tl::unexpected(r.error());
  }
  DirtyBitmap out;
  out.guest_base = region->guest_base();
  out.pages = pages;
  out.bits.assign((pages + 63) / 64, 0);
  for (std::uint64_t page = 0; page < pages; ++page) {
    if ((bytes[page / 8] >> (page % 8)) & 1U) out.bits[page / 64] |= std::uint64_t{1} << (page % 64);
  }
  // Plus what the backend itself wrote into guest RAM (INS data, emulated stores).
  const auto own = memory_->take_dirty(slot.id);
  for (std::size_t i = 0; i < own.size() && i < out.bits.size(); ++i) out.bits[i] |= own[i];
  return out;
}

}  // namespace hv::mshv::detail
