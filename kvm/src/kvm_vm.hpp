#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "hv/hypervisor.hpp"
#include "hv/unique_fd.hpp"
#include "kvm_host.hpp"

namespace hv::kvm::detail {

class KvmVm final : public Vm {
 public:
  static Result<std::unique_ptr<KvmVm>> create(std::shared_ptr<const KvmHost> host, const VmOptions& options);

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
  struct Mapping {
    std::shared_ptr<GuestRegion> region;
    bool read_only = false;
    bool log_dirty = false;
  };
  KvmVm(std::shared_ptr<const KvmHost> host, UniqueFd fd, const VmOptions& options);
  Result<void> set_user_memory_region(std::uint32_t slot, const Mapping& mapping, bool remove) const;
  Result<void> set_dirty_logging(MemorySlot slot, bool on);
  Result<void> require_irqchip(const char* operation) const;
  Result<void> ioeventfd(const EventFd& event, const IoEventAddress& where, bool deassign);
  Result<void> irqfd(const EventFd& event, std::uint32_t gsi, bool deassign);

  std::shared_ptr<const KvmHost> host_;
  UniqueFd fd_;
  VmOptions options_;
  std::uint32_t max_slots_;
  std::uint32_t max_vcpu_id_;
  bool read_only_memory_;
  std::mutex mutex_;  // guards mappings_, vcpu_ids_, default_cpuid_
  std::map<std::uint32_t, Mapping> mappings_;
  std::set<std::uint32_t> vcpu_ids_;
  std::vector<CpuidEntry> default_cpuid_;
};

}  // namespace hv::kvm::detail
