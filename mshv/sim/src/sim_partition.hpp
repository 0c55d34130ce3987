#pragma once
// One simulated partition: what MSHV_CREATE_PARTITION creates, backed by a KVM VM. Holds the guest
// memory regions (by userspace address, as the kernel receives them), the VPs, the MSI routing table,
// irqfds, ioeventfds and partition properties. Every entry point validates its arguments the way
// docs/mshv-abi.md says the kernel does and returns the kernel's result: >= 0, or -errno.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "hv/event_fd.hpp"
#include "hv/hypervisor.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv::sim {

class Vp;

// The simulator runs in its caller's process, so an address the ABI carries (RootHvcall::in_ptr/out_ptr,
// UserMemRegion::userspace_addr, GpapAccessBitmap::bitmap_ptr, GetSetVpState::buf_ptr) is a pointer of
// this process, which the kernel would reach with copy_from_user/copy_to_user. Where the kernel answers
// a bad address with EFAULT the simulator cannot tell: the caller vouches for it, as the ABI asks.
inline void* user_pointer(std::uint64_t address) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the caller's pointer, back from its __u64 field
  return reinterpret_cast<void*>(address);
}
// `size` bytes at a non-zero userspace address, `size` being what the ABI says the buffer holds.
inline std::span<std::uint8_t> user_bytes(std::uint64_t address, std::size_t size) noexcept {
  return {static_cast<std::uint8_t*>(user_pointer(address)), size};
}

// Faults a test asks for through hv/mshv/simulator.hpp, shared by the partitions of one simulator.
struct FaultInjection {
  // The next memory intercept carries execution state bit 6 (interruption pending).
  std::atomic<bool> interruption_pending{false};
};

class Partition : public std::enable_shared_from_this<Partition> {
 public:
  // `cpuid_defaults`: what the simulated hypervisor answers CPUID with before a VMM registers results.
  Partition(std::uint64_t pt_flags, std::unique_ptr<Vm> vm, std::vector<CpuidEntry> cpuid_defaults,
            std::shared_ptr<FaultInjection> faults)
      : pt_flags_(pt_flags),
        vm_(std::move(vm)),
        cpuid_defaults_(std::move(cpuid_defaults)),
        faults_(std::move(faults)) {}
  ~Partition();
  // Pinned: its VPs and KVM objects refer to it.
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  long initialize();
  long create_vp(const abi::CreateVp& args, std::shared_ptr<Vp>& out);
  long set_guest_memory(const abi::UserMemRegion& region);
  long irqfd(const abi::UserIrqfd& args);
  long ioeventfd(const abi::UserIoeventfd& args);
  long set_msi_routing(const void* table);
  long gpap_access_bitmap(abi::GpapAccessBitmap& args);
  // A hypercall through MSHV_ROOT_HVCALL on the partition fd, or on a VP fd (`via_vp`).
  long hvcall(abi::RootHvcall& call, bool via_vp);

  // Guest-physical reads for the VPs' instruction fetch and translation; false outside RAM.
  bool read_physical(std::uint64_t gpa, std::span<std::uint8_t> out) const;
  bool is_ram(std::uint64_t gpa) const;
  bool is_writable(std::uint64_t gpa) const;
  bool lapic() const noexcept { return (pt_flags_ & (1ULL << abi::kPtBitLapic)) != 0; }
  std::shared_ptr<Vp> find_vp(std::uint32_t index) const;
  FaultInjection& faults() const noexcept { return *faults_; }

 private:
  struct Region {
    std::uint64_t gpa = 0, size = 0, userspace_addr = 0;
    std::uint8_t flags = 0;
    MemorySlot slot;
    // The hypervisor's dirty bit per page (u64 words) while tracking is on; empty otherwise. KVM's log
    // (the guest's writes) is merged in whenever the simulator looks at it.
    std::vector<std::uint64_t> dirty;
  };
  struct Irqfd {
    int fd = -1;  // the caller's number, for DEASSIGN
    std::uint32_t gsi = 0;
    EventFd event;
  };
  struct Ioeventfd {
    abi::UserIoeventfd args;
    EventFd event;
  };
  std::uint16_t get_set_registers(abi::RootHvcall& call, bool set);
  std::uint16_t translate(abi::RootHvcall& call);
  std::uint16_t assert_interrupt(abi::RootHvcall& call);
  std::uint16_t partition_property(abi::RootHvcall& call, bool set);
  long apply_routing();
  std::uint16_t register_intercept_result(abi::RootHvcall& call);
  std::uint16_t set_page_access_tracking(std::uint64_t value);  // mutex_ held
  bool merge_guest_writes(Region& r);                           // mutex_ held; false if KVM's log failed
  bool irqfd_hazard(const abi::UserIrqEntry& route) const;      // mutex_ held

  mutable std::mutex mutex_;
  std::uint64_t pt_flags_;
  std::unique_ptr<Vm> vm_;
  bool initialized_ = false;
  std::vector<Region> regions_;
  std::map<std::uint32_t, std::weak_ptr<Vp>> vps_;  // every VP ever created, for the partition's life
  std::map<std::uint32_t, abi::UserIrqEntry> routes_;
  std::vector<Irqfd> irqfds_;
  std::vector<Ioeventfd> ioeventfds_;
  std::map<std::uint32_t, std::uint64_t> properties_;
  std::vector<CpuidEntry> cpuid_defaults_;
  std::shared_ptr<FaultInjection> faults_;
};

}  // namespace hv::mshv::sim
