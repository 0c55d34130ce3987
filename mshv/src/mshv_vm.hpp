#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "hv/hypervisor.hpp"
#include "mshv_calls.hpp"
#include "mshv_memory.hpp"

namespace hv::mshv::detail {

// A partition: created, given its early properties, initialized; then memory, VPs and interrupts.
class MshvVm final : public Vm {
 public:
  static Result<std::unique_ptr<MshvVm>> create(const std::shared_ptr<MshvSystem>& system, const VmOptions& options);

  Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t id) override;
  Result<void> register_irqfd(const EventFd& event, std::uint32_t gsi) override;
  Result<void> unregister_irqfd(const EventFd& event, std::uint32_t gsi) override;
  Result<void> register_ioeventfd(const EventFd& event, const IoEventAddress& where) override;
  Result<void> unregister_ioeventfd(const EventFd& event, const IoEventAddress& where) override;
  Result<void> signal_msi(const MsiMessage& message) override;
  Result<void> set_gsi_routing(std::span<const GsiRoute> routes) override;
  Result<void> set_irq_line(std::uint32_t gsi, bool level) override;

 protected:
  Result<MemorySlot> map_region(std::shared_ptr<GuestRegion> region, MapOptions options) override;
  Result<void> unmap_region(MemorySlot slot) override;
  Result<void> start_dirty_log(MemorySlot slot) override;
  Result<DirtyBitmap> fetch_guest_dirty_log(MemorySlot slot) override;
  Result<void> stop_dirty_log(MemorySlot slot) override;

 private:
  MshvVm(MshvFd partition, const VmOptions& options) : partition_(std::move(partition)), options_(options) {}
  Result<void> set_memory(const GuestRegion& region, std::uint8_t flags, const char* operation) const;
  Result<void> ioeventfd(const EventFd& event, const IoEventAddress& where, bool deassign) const;
  Result<void> set_property(std::uint32_t code, std::uint64_t value, const char* operation) const;
  Result<void> require_lapic(const char* operation) const;
  Result<void> set_up_partition();
  // mutex_ held:
  Result<void> enable_dirty_log_locked(std::uint32_t slot);
  Result<void> tracking_off_locked();
  Result<void> access_bitmap_locked(const GuestRegion& region, std::uint8_t op, std::vector<std::uint8_t>& bytes) const;
  Result<void> check_irqfd_route_locked(std::uint32_t gsi, std::uint32_t address_lo, const char* operation) const;
  [[nodiscard]] bool has_irqfd_locked(std::uint32_t gsi) const;  // an irqfd is registered on `gsi`

  MshvFd partition_;
  VmOptions options_;
  std::shared_ptr<PartitionMemory> memory_ = std::make_shared<PartitionMemory>();
  std::mutex mutex_;                     // guards the members below
  std::map<std::uint32_t, bool> slots_;  // slot -> read_only
  std::set<std::uint32_t> dirty_slots_;
  bool tracking_ = false;  // GPA_PAGE_ACCESS_TRACKING as last set
  std::set<std::uint32_t> vp_indices_;
  std::map<std::uint32_t, std::uint32_t> routes_;        // GSI -> MSI address_lo, as last set
  std::multiset<std::pair<int, std::uint32_t>> irqfds_;  // (eventfd, GSI) per registered irqfd
  std::uint32_t next_slot_ = 0;
};

}  // namespace hv::mshv::detail
