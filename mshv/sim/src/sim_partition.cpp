// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
#include "sim_partition.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <array>
#include <algorithm>
#include <cstring>

#include "sim_vp.hpp"
#include "hv/mshv/simulator.hpp"

namespace hv::mshv::sim {

namespace {

constexpr std::uint64_t kPage = 4096;

// The kernel requires the userspace range to be a mapped VMA [§4]; mincore fails with ENOMEM otherwise.
// Asked in fixed windows, so the caller's size decides no allocation.
bool mapped(std::uint64_t address, std::uint64_t size) {
  constexpr std::uint64_t kWindowPages = 512;
  unsigned char residency[kWindowPages];
  for (std::uint64_t done = 0; done < size;) {
    const std::uint64_t n = std::min(size - done, kWindowPages * kPage);
    // The simulator receives guest RAM by address, as the kernel does; this only asks whether it is mapped.
    if (::mincore(user_pointer(address + done), n, residency) != 0) return false;
    done += n;
  }
  return true;
}

std::vector<std::uint64_t> all_dirty(std::uint64_t bytes) {
  const std::uint64_t pages = bytes / kPage;
  std::vector<std::uint64_t> words((pages + 63) / 64, ~std::uint64_t{0});
  if (pages % 64 != 0) words.back() = (std::uint64_t{1} << (pages % 64)) - 1;
  return words;
}

bool all_zero(std::span<const std::uint8_t> bytes) {
  for (auto b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace

Partition::~Partition() {
  // Drop the KVM objects before the regions' host memory can go away with the backend.
  irqfds_.clear();
  ioeventfds_.clear();
  vm_.reset();
}

long Partition::initialize() {
  std::lock_guard lock(mutex_);
  initialized_ = true;  // idempotent [§4]
  return 0;
}

long Partition::create_vp(const abi::CreateVp& args, std::shared_ptr<Vp>& out) {
  std::lock_guard lock(mutex_);
  if (!initialized_) return -EINVAL;  // VPs come after INITIALIZE_PARTITION [§4, INF: errno]
  if (args.vp_index >= abi::kMaxVps) return -EINVAL;
  // A VP lives as long as its partition, whatever happens to its descriptor [§4, INF].
  if (vps_.count(args.vp_index) != 0) return -EEXIST;
  auto vcpu = vm_->create_vcpu(args.vp_index);
  if (!vcpu) return -ENOMEM;
  out = std::make_shared<Vp>(args.vp_index, shared_from_this(), std::move(*vcpu));
  vps_[args.vp_index] = out;
  return 0;
}

std::shared_ptr<Vp> Partition::find_vp(std::uint32_t index) const {
  std::lock_guard lock(mutex_);
  auto it = vps_.find(index);
  return it == vps_.end() ? nullptr : it->second.lock();
}

long Partition::set_guest_memory(const abi::UserMemRegion& r) {
  std::lock_guard lock(mutex_);
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto host_page = static_cast<std::uint64_t>(page > 0 ? page : 4096);
  if (r.size == 0 || r.size % host_page != 0 || r.userspace_addr % host_page != 0) return -EINVAL;
  if ((r.flags & ~abi::kSetMemFlagsMask) != 0 || !all_zero(r.rsvd)) return -EINVAL;
  if (r.guest_pfn > (~0ULL >> 12) || r.size > (~0ULL - (r.guest_pfn << 12))) return -EINVAL;
  if (r.size > kMaxRegionSize) return -EINVAL;  // the simulator's limit, far above any test's [INF]
  const std::uint64_t gpa = r.guest_pfn << 12;
  if ((r.flags & (1U << abi::kSetMemBitUnmap)) != 0) {
    // Unmap names an existing region exactly [§4].
    for (auto it = regions_.begin(); it != regions_.end(); ++it) {
      if (it->gpa == gpa && it->size == r.size && it->userspace_addr == r.userspace_addr) {
        if (!vm_->unmap_memory(it->slot)) return -EIO;
        regions_.erase(it);
        return 0;
      }
    }
    return -EINVAL;
  }
  if (!mapped(r.userspace_addr, r.size)) return -EINVAL;
  for (const auto& existing : regions_) {
    if (gpa < existing.gpa + existing.size && existing.gpa < gpa + r.size) return -EEXIST;
    // 6.15-6.18 also refuse overlapping userspace ranges [§4]; the simulator models those kernels.
    if (r.userspace_addr < existing.userspace_addr + existing.size &&
        existing.userspace_addr < r.userspace_addr + r.size) {
      return -EEXIST;
    }
  }
  // The simulator maps the caller's memory into KVM by address, as the kernel pins it [§4].
  auto region = GuestRegion::borrow(gpa, user_bytes(r.userspace_addr, r.size));
  if (!region) return -EINVAL;
  // GPA read is always granted; without WRITABLE the region is read-only and writes intercept.
  const bool writable = (r.flags & (1U << abi::kSetMemBitWritable)) != 0;
  // A region mapped while dirty tracking is on is tracked too (tracking is partition-wide, §11).
  const MapOptions options{.read_only = !writable,
                           .log_dirty = writable && properties_[abi::kPropertyGpaPageAccessTracking] == 1};
  auto slot = vm_->map_memory(*region, options);
  if (!slot) return slot.error().kind() == ErrorKind::Overlap ? -EEXIST : -EINVAL;
  // Tracked from the start with every page dirty, as on enabling [INF: by analogy with Hyperlight #689].
  regions_.push_back({gpa, r.size, r.userspace_addr, r.flags, *slot,
                      options.log_dirty ? all_dirty(r.size) : std::vector<std::uint64_t>{}});
  return 0;
}

bool Partition::is_ram(std::uint64_t gpa) const {
  std::lock_guard lock(mutex_);
  for (const auto& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size) return true;
  }
  return false;
}

bool Partition::is_writable(std::uint64_t gpa) const {
  std::lock_guard lock(mutex_);
  for (const auto& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size) return (r.flags & (1U << abi::kSetMemBitWritable)) != 0;
  }
  return false;
}

bool Partition::read_physical(std::uint64_t gpa, std::span<std::uint8_t> out) const {
  std::lock_guard lock(mutex_);
  for (const auto& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size && out.size() <= r.size - (gpa - r.gpa)) {
      std::memcpy(out.data(), user_pointer(r.userspace_addr + (gpa - r.gpa)), out.size());
      return true;
    }
  }
  return false;
}

long Partition::apply_routing() {
  std::vector<GsiRoute> routes;
  for (const auto& [gsi, e] : routes_) {
    routes.push_back(MsiRoute{gsi, MsiMessage{e.address_lo, e.data}});
  }
  return vm_->set_gsi_routing(routes) ? 0 : -EINVAL;
}

// Linux drivers/hv/mshv_eventfd.c, mshv_try_assert_irq_fast: a signalled irqfd whose route has a
// physical destination indexes pt_vp_array[apic id] and dereferences it without a NULL check (on
// root-scheduler hosts with direct injection). The simulator cannot see KVM deliver the signal, so it
// refuses to arm the hazard with ENXIO, an errno the real kernel never returns here: the real one accepts
// and may crash the host later. (The simulator's APIC id = VP index, as KVM's default.)
bool Partition::irqfd_hazard(const abi::UserIrqEntry& route) const {
  if ((route.address_lo & 4) != 0) return false;  // logical destination: no fast path
  return vps_.count((route.address_lo >> 12) & 0xff) == 0;
}

long Partition::set_msi_routing(const void* table) {
  abi::UserIrqTableHeader header{};
  std::memcpy(&header, table, sizeof header);
  if (header.rsvd != 0 || header.nr > abi::kMaxGuestIrqs) return -EINVAL;
  std::map<std::uint32_t, abi::UserIrqEntry> routes;
  const auto* bytes = static_cast<const std::uint8_t*>(table) + sizeof header;
  for (std::uint32_t i = 0; i < header.nr; ++i) {
    abi::UserIrqEntry e{};
    std::memcpy(&e, bytes + i * sizeof e, sizeof e);
    if (e.gsi >= abi::kMaxGuestIrqs || e.address_hi != 0 || routes.count(e.gsi) != 0) return -EINVAL;  // [§11]
    routes[e.gsi] = e;
  }
  std::lock_guard lock(mutex_);
  if (!lapic()) return -EINVAL;  // no interrupt controller to deliver to [INF]
  for (const auto& fd : irqfds_) {
    if (auto it = routes.find(fd.gsi); it != routes.end() && irqfd_hazard(it->second)) return -ENXIO;
  }
  routes_ = std::move(routes);  // the table is replaced as a whole [§11]
  return apply_routing();
}

long Partition::irqfd(const abi::UserIrqfd& args) {
  std::lock_guard lock(mutex_);
  if ((args.flags & ~((1U << abi::kIrqfdBitDeassign) | (1U << abi::kIrqfdBitResample))) != 0) return -EINVAL;
  if (args.gsi >= abi::kMaxGuestIrqs) return -EINVAL;
  if ((args.flags & (1U << abi::kIrqfdBitDeassign)) != 0) {
    for (auto it = irqfds_.begin(); it != irqfds_.end(); ++it) {
      if (it->fd == args.fd && it->gsi == args.gsi) {
        (void)vm_->unregister_irqfd(it->event, it->gsi);  // ours since the assign: it cannot be missing
        irqfds_.erase(it);
        return 0;
      }
    }
    return 0;  // the kernel ignores a deassign of something not assigned [INF]
  }
  if ((args.flags & (1U << abi::kIrqfdBitResample)) != 0) return -EINVAL;  // needs a level route; not simulated
  if (!lapic()) return -EINVAL;
  if (auto it = routes_.find(args.gsi); it != routes_.end() && irqfd_hazard(it->second)) return -ENXIO;
  for (const auto& existing : irqfds_) {
    if (existing.fd == args.fd) return -EBUSY;  // same eventfd twice [§11]
  }
  auto event = EventFd::duplicate(args.fd);
  if (!event) return -EBADF;
  // Another descriptor of an eventfd already bound: KVM refuses it with EBUSY, as MSHV does [§11].
  if (auto bound = vm_->register_irqfd(*event, args.gsi); !bound)
    return bound.error().sys_errno() == EBUSY ? -EBUSY : -EINVAL;
  irqfds_.push_back({args.fd, args.gsi, std::move(*event)});
  return 0;
}

long Partition::ioeventfd(const abi::UserIoeventfd& args) {
  std::lock_guard lock(mutex_);
  constexpr std::uint32_t known =
      (1U << abi::kIoeventfdBitDatamatch) | (1U << abi::kIoeventfdBitPio) | (1U << abi::kIoeventfdBitDeassign);
  if ((args.flags & ~known) != 0 || !all_zero(args.rsvd)) return -EINVAL;
  if ((args.flags & (1U << abi::kIoeventfdBitPio)) != 0) return -EOPNOTSUPP;  // MMIO only [§11]
  if (args.len != 0 && args.len != 1 && args.len != 2 && args.len != 4 && args.len != 8) return -EINVAL;
  const bool datamatch = (args.flags & (1U << abi::kIoeventfdBitDatamatch)) != 0;
  const auto same = [&](const Ioeventfd& e) {
    const bool e_match = (e.args.flags & (1U << abi::kIoeventfdBitDatamatch)) != 0;
    return e.args.addr == args.addr && e.args.len == args.len && e_match == datamatch &&
           (!datamatch || e.args.datamatch == args.datamatch);
  };
  if ((args.flags & (1U << abi::kIoeventfdBitDeassign)) != 0) {
    for (auto it = ioeventfds_.begin(); it != ioeventfds_.end(); ++it) {
      if (same(*it) && it->args.fd == args.fd) {
        IoEventAddress where{IoEventSpace::Mmio, it->args.addr, it->args.len,
                             datamatch ? std::optional(args.datamatch) : std::nullopt};
        (void)vm_->unregister_ioeventfd(it->event, where);  // ours since the assign: it cannot be missing
        ioeventfds_.erase(it);
        return 0;
      }
    }
    return -ENOENT;
  }
  for (const auto& e : ioeventfds_) {
    if (same(e)) return -EEXIST;
  }
  if (args.len == 0) return -EINVAL;  // "any size" has no KVM counterpart here; not simulated
  auto event = EventFd::duplicate(args.fd);
  if (!event) return -EBADF;
  IoEventAddress where{IoEventSpace::Mmio, args.addr, args.len,
                       datamatch ? std::optional(args.datamatch) : std::nullopt};
  if (!vm_->register_ioeventfd(*event, where)) return -EINVAL;
  ioeventfds_.push_back({args, std::move(*event)});
  return 0;
}

bool Partition::merge_guest_writes(Region& r) {
  auto log = vm_->fetch_and_clear_dirty_log(r.slot);
  if (!log) return false;
  for (std::size_t i = 0; i < r.dirty.size() && i < log->bits.size(); ++i) r.dirty[i] |= log->bits[i];
  return true;
}

long Partition::gpap_access_bitmap(abi::GpapAccessBitmap& args) {
  std::lock_guard lock(mutex_);
  if (!all_zero(args.rsvd) || args.access_type != abi::kGpapAccessTypeDirty || args.bitmap_ptr == 0) return -EINVAL;
  if (args.access_op > abi::kGpapAccessOpSet) return -EINVAL;
  if (properties_[abi::kPropertyGpaPageAccessTracking] != 1) return -EINVAL;  // tracking not enabled [§11, INF]
  for (auto& r : regions_) {
    if (args.gpap_base != r.gpa >> 12 || args.page_count != r.size >> 12 || r.dirty.empty()) continue;
    if (!merge_guest_writes(r)) return -EINVAL;
    // One bit per page, u8 granularity [§3.2]; the model keeps u64 words.
    const auto out = user_bytes(args.bitmap_ptr, (args.page_count + 7) / 8);  // the caller's buffer, by address
    std::memset(out.data(), 0, out.size());
    for (std::uint64_t page = 0; page < args.page_count; ++page) {
      if ((r.dirty[page / 64] >> (page % 64)) & 1U)
        out[page / 8] = static_cast<std::uint8_t>(out[page / 8] | (1U << (page % 8)));
    }
    // Then the operation on the bits: CLEAR, or SET (NOOP acts as SET [§11]).
    if (args.access_op == abi::kGpapAccessOpClear) {
      std::fill(r.dirty.begin(), r.dirty.end(), 0);
    } else {
      r.dirty = all_dirty(r.size);
    }
    return 0;
  }
  return -EINVAL;  // the simulator answers whole regions only [INF]
}

// GPA_PAGE_ACCESS_TRACKING. On: every page starts dirty, so the first bitmap reports all of them
// (Hyperlight issue #689). Off: refused while a tracked page's dirty bit is clear -- Cloud Hypervisor
// (hypervisor/src/mshv/mod.rs, stop_dirty_log) and rust-vmm mshv-ioctls (src/ioctls/vm.rs,
// disable_dirty_page_tracking: "otherwise this hypercall will be failed") set them all first. Neither
// names the status; the simulator answers HV_STATUS_INVALID_PARTITION_STATE and leaves tracking on.
std::uint16_t Partition::set_page_access_tracking(std::uint64_t value) {
  if (value > 1) return abi::kHvStatusInvalidParameter;
  const bool on = properties_[abi::kPropertyGpaPageAccessTracking] == 1;
  if (value == 1) {
    if (on) return abi::kHvStatusSuccess;
    for (auto& r : regions_) {
      if ((r.flags & (1U << abi::kSetMemBitWritable)) == 0) continue;
      if (!vm_->enable_dirty_log(r.slot)) return abi::kHvStatusInvalidParameter;
      r.dirty = all_dirty(r.size);
    }
    properties_[abi::kPropertyGpaPageAccessTracking] = 1;
    return abi::kHvStatusSuccess;
  }
  if (!on) return abi::kHvStatusSuccess;
  for (auto& r : regions_) {
    if (r.dirty.empty()) continue;
    if (!merge_guest_writes(r)) return abi::kHvStatusInvalidParameter;
    if (r.dirty != all_dirty(r.size)) return abi::kHvStatusInvalidPartitionState;
  }
  for (auto& r : regions_) {
    if (r.dirty.empty()) continue;
    if (!vm_->disable_dirty_log(r.slot)) return abi::kHvStatusInvalidParameter;
    r.dirty.clear();
  }
  properties_[abi::kPropertyGpaPageAccessTracking] = 0;
  return abi::kHvStatusSuccess;
}

std::uint16_t Partition::partition_property(abi::RootHvcall& call, bool set) {
  if (set) {
    if (call.in_sz < sizeof(abi::HvInputSetPartitionProperty)) return abi::kHvStatusInvalidHypercallInput;
    abi::HvInputSetPartitionProperty in{};
    std::memcpy(&in, user_pointer(call.in_ptr), sizeof in);
    std::lock_guard lock(mutex_);
    switch (in.property_code) {
      case abi::kPropertyGpaPageAccessTracking: return set_page_access_tracking(in.property_value);
      // An early property: set before INITIALIZE_PARTITION, as Cloud Hypervisor, rust-vmm, QEMU and
      // Hyperlight do (hyperlight src/hyperlight_host/src/hypervisor/hyperv_linux.rs); afterwards the
      // simulator refuses it [INF: the status].
      case abi::kPropertySyntheticProcFeatures:
        if (initialized_) return abi::kHvStatusInvalidPartitionState;
        break;
      // Cloud Hypervisor sets it after INITIALIZE (hypervisor/src/mshv/mod.rs); the simulator holds
      // VMMs to that order [INF], and to the two values hvhdk.h defines.
      case abi::kPropertyUnimplementedMsrAction:
        if (!initialized_) return abi::kHvStatusInvalidPartitionState;
        if (in.property_value > abi::kUnimplementedMsrActionIgnoreWriteReadZero)
          return abi::kHvStatusPropertyValueOutOfRange;
        break;
      default: break;
    }
    properties_[in.property_code] = in.property_value;
    return abi::kHvStatusSuccess;
  }
  if (call.in_sz < sizeof(abi::HvInputGetPartitionProperty) || call.out_sz < 8 || call.out_ptr == 0) {
    return abi::kHvStatusInvalidHypercallInput;
  }
  abi::HvInputGetPartitionProperty in{};
  std::memcpy(&in, user_pointer(call.in_ptr), sizeof in);
  std::lock_guard lock(mutex_);
  auto it = properties_.find(in.property_code);
  if (it == properties_.end()) return abi::kHvStatusUnknownProperty;
  std::memcpy(user_pointer(call.out_ptr), &it->second, 8);
  return abi::kHvStatusSuccess;
}

std::uint16_t Partition::get_set_registers(abi::RootHvcall& call, bool set) {
  const std::uint16_t reps = call.reps;
  call.reps = 0;  // reps completed is written back on failure too [§5]
  abi::HvInputVpRegistersHeader header{};
  if (call.in_sz < sizeof header) return abi::kHvStatusInvalidHypercallInput;
  const std::span<const std::uint8_t> in = user_bytes(call.in_ptr, call.in_sz);  // the caller's hypercall input
  std::memcpy(&header, in.data(), sizeof header);
  auto vp = find_vp(header.vp_index);
  if (vp == nullptr) return abi::kHvStatusInvalidVpIndex;
  if (header.input_vtl != 0) return abi::kHvStatusInvalidParameter;
  std::uint16_t done = 0;
  std::uint16_t status = 0;
  if (set) {
    // Stack arrays of a hypercall page's worth: a register access allocates nothing, as in the kernel.
    std::array<abi::HvRegisterAssoc, abi::kMaxSetRegistersPerCall> assocs{};
    if (reps > assocs.size() || call.in_sz < sizeof header + std::size_t{reps} * sizeof(abi::HvRegisterAssoc))
      return abi::kHvStatusInvalidHypercallInput;
    std::memcpy(assocs.data(), in.subspan(sizeof header).data(), std::size_t{reps} * sizeof(abi::HvRegisterAssoc));
    status = vp->set_registers(std::span(assocs).first(reps), done);
  } else {
    std::array<std::uint32_t, abi::kMaxGetRegistersPerCall> names{};
    std::array<abi::HvRegisterValue, abi::kMaxGetRegistersPerCall> values{};
    if (reps > names.size() || call.in_sz < sizeof header + std::size_t{reps} * 4 || call.out_ptr == 0 ||
        call.out_sz < std::size_t{reps} * sizeof(abi::HvRegisterValue)) {
      return abi::kHvStatusInvalidHypercallInput;
    }
    std::memcpy(names.data(), in.subspan(sizeof header).data(), std::size_t{reps} * 4);
    status = vp->get_registers(std::span(names).first(reps), std::span(values).first(reps), done);
    std::memcpy(user_pointer(call.out_ptr), values.data(), std::size_t{done} * sizeof(abi::HvRegisterValue));
  }
  call.reps = done;
  return status;
}

std::uint16_t Partition::translate(abi::RootHvcall& call) {
  abi::HvInputTranslateVirtualAddress in{};
  if (call.in_sz < sizeof in || call.out_ptr == 0 || call.out_sz < sizeof(abi::HvOutputTranslateVirtualAddress)) {
    return abi::kHvStatusInvalidHypercallInput;
  }
  std::memcpy(&in, user_pointer(call.in_ptr), sizeof in);
  auto vp = find_vp(in.vp_index);
  if (vp == nullptr) return abi::kHvStatusInvalidVpIndex;
  std::uint64_t gpa = 0;
  abi::HvOutputTranslateVirtualAddress out{};
  const std::uint16_t status =
      vp->translate(in.gva_page << 12, (in.control_flags & abi::kTranslateValidateWrite) != 0, gpa, out.result_code);
  if (status != abi::kHvStatusSuccess) return status;
  // The GPA checks only with VALIDATE_READ/WRITE: without them the call only walks the page tables
  // (unverified, docs/mshv.md "Translations"; `hvctl mshv-probe` prints both answers).
  const bool validate = (in.control_flags & (abi::kTranslateValidateRead | abi::kTranslateValidateWrite)) != 0;
  if (out.result_code == abi::kTranslateResultSuccess && validate) {
    const bool write = (in.control_flags & abi::kTranslateValidateWrite) != 0;
    if (!is_ram(gpa)) {
      out.result_code = abi::kTranslateResultGpaUnmapped;
    } else if (write && !is_writable(gpa)) {
      out.result_code = abi::kTranslateResultGpaNoWriteAccess;  // a read-only region [§6]
    }
  }
  // The TLFS promises GpaPage only with SUCCESS. What the hypervisor leaves there otherwise is
  // unknown; the simulator writes a page no guest maps, so that a VMM relying on it goes wrong here.
  out.gpa_page = out.result_code == abi::kTranslateResultSuccess ? gpa >> 12 : kSimUnpromisedGpaPage;
  std::memcpy(user_pointer(call.out_ptr), &out, sizeof out);
  return abi::kHvStatusSuccess;
}

std::uint16_t Partition::assert_interrupt(abi::RootHvcall& call) {
  abi::HvInputAssertVirtualInterrupt in{};
  if (call.in_sz < sizeof in) return abi::kHvStatusInvalidHypercallInput;
  std::memcpy(&in, user_pointer(call.in_ptr), sizeof in);
  if (!lapic()) return abi::kHvStatusInvalidPartitionState;
  const std::uint64_t type = in.control & 0xffffffff;
  if (type != abi::kInterruptTypeFixed && type != abi::kInterruptTypeLowestPriority && type != abi::kInterruptTypeNmi) {
    return abi::kHvStatusInvalidParameter;
  }
  if (in.vector > 0xff || in.dest_addr > 0xff) return abi::kHvStatusInvalidParameter;
  // Hyperlight (src/hyperlight_host/src/hypervisor/hyperv_linux.rs): the LAPIC starts software-disabled
  // (SVR bit 8 clear) and "request_virtual_interrupt would fail" until it is enabled. No status is
  // named; the simulator answers HV_STATUS_INVALID_VP_STATE for a fixed or lowest-priority interrupt to
  // a VP (physical destination) whose LAPIC is software-disabled. (An NMI ignores the SVR.)
  if (type != abi::kInterruptTypeNmi && (in.control & abi::kInterruptControlLogical) == 0) {
    if (auto vp = find_vp(static_cast<std::uint32_t>(in.dest_addr)); vp != nullptr && !vp->lapic_software_enabled()) {
      return abi::kHvStatusInvalidVpState;
    }
  }
  // Delivered as the equivalent MSI: destination in address bits 19:12, vector and type in data.
  MsiMessage msi;
  msi.address = 0xfee00000ULL | (in.dest_addr << 12) | ((in.control & abi::kInterruptControlLogical) != 0 ? 4 : 0);
  msi.data = static_cast<std::uint32_t>(in.vector | (type << 8) |
                                        ((in.control & abi::kInterruptControlLevel) != 0 ? 1U << 15 : 0));
  std::lock_guard lock(mutex_);
  return vm_->signal_msi(msi) ? abi::kHvStatusSuccess : abi::kHvStatusInvalidParameter;
}

// CPUID results only (intercept type X64_CPUID) [§6]. The hypervisor answers (its value & ~mask) |
// (value & mask) (Linux include/hyperv/hvhdk.h, hv_register_x64_cpuid_result_parameters; rust-vmm
// mshv-ioctls and QEMU pass mask = value for that reason). The simulator's "own value" is the partition's
// default CPUID; the VP applies the result before its next run.
std::uint16_t Partition::register_intercept_result(abi::RootHvcall& call) {
  abi::HvInputRegisterInterceptResult in{};
  std::memcpy(&in, user_pointer(call.in_ptr), sizeof in);
  auto vp = find_vp(in.vp_index);
  if (vp == nullptr) return abi::kHvStatusInvalidVpIndex;
  if (in.intercept_type != abi::kInterceptTypeX64Cpuid) return abi::kHvStatusInvalidParameter;
  const auto& p = in.parameters;
  CpuidEntry own{.function = p.input_eax, .index = p.input_ecx, .index_significant = p.subleaf_specific != 0};
  for (const auto& d : cpuid_defaults_) {
    if (d.function == p.input_eax && (!d.index_significant || d.index == p.input_ecx)) {
      own = d;
      break;
    }
  }
  const auto merge = [](std::uint32_t mine, std::uint32_t value, std::uint32_t mask) {
    return (mine & ~mask) | (value & mask);
  };
  CpuidEntry entry{.function = p.input_eax,
                   .index = p.input_ecx,
                   .index_significant = p.subleaf_specific != 0,
                   .eax = merge(own.eax, p.eax, p.eax_mask),
                   .ebx = merge(own.ebx, p.ebx, p.ebx_mask),
                   .ecx = merge(own.ecx, p.ecx, p.ecx_mask),
                   .edx = merge(own.edx, p.edx, p.edx_mask)};
  vp->register_cpuid(entry);
  return abi::kHvStatusSuccess;
}

long Partition::hvcall(abi::RootHvcall& call, bool via_vp) {
  // Validation the kernel does before the hypervisor sees the call [§5].
  if (call.status != 0 || !all_zero(call.rsvd) || call.in_ptr == 0 || call.in_sz < 8 ||
      call.in_sz > abi::kHvcallMaxInput) {
    return -EINVAL;
  }
  if (call.out_ptr != 0 && (call.out_sz < 1 || call.out_sz > abi::kHvcallMaxInput)) return -EINVAL;
  if (via_vp && call.code == abi::kHvcallSetPartitionProperty) return -EINVAL;  // partition fd only [§5]
  std::uint16_t status = abi::kHvStatusSuccess;
  switch (call.code) {
    case abi::kHvcallGetVpRegisters: status = get_set_registers(call, false); break;
    case abi::kHvcallSetVpRegisters: status = get_set_registers(call, true); break;
    case abi::kHvcallTranslateVirtualAddress: status = translate(call); break;
    case abi::kHvcallAssertVirtualInterrupt: status = assert_interrupt(call); break;
    case abi::kHvcallGetPartitionProperty: status = partition_property(call, false); break;
    case abi::kHvcallSetPartitionProperty: status = partition_property(call, true); break;
    case abi::kHvcallRegisterInterceptResult:
      if (call.in_sz < sizeof(abi::HvInputRegisterInterceptResult)) return -EINVAL;
      status = register_intercept_result(call);
      break;
    case abi::kHvcallInstallIntercept:
    case abi::kHvcallClearVirtualInterrupt:
    case abi::kHvcallGetGpaPagesAccessStates:
    case abi::kHvcallSignalEventDirect:
    case abi::kHvcallPostMessageDirect:
    case abi::kHvcallGetVpCpuidValues:
    case abi::kHvcallGetPartitionPropertyEx:
      status = abi::kHvStatusInvalidHypercallCode;  // allowed by the kernel, not simulated
      break;
    default: return -EINVAL;  // not in the kernel's allow-list [§5]
  }
  call.status = status;
  return status == abi::kHvStatusSuccess ? 0 : -EIO;
}

}  // namespace hv::mshv::sim
