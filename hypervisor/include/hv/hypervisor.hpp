#pragma once
// The backend-neutral interface a VMM programs against: Hypervisor -> Vm -> Vcpu.
// Ownership: a Vm and each Vcpu are independent objects; a Vcpu may outlive nothing it needs, but a
// VMM normally destroys its vCPUs before the Vm.
// Threads: a Vcpu is driven by one thread at a time (run/get/set; a second concurrent run() is Busy);
// kick() may be called from any thread. Vm calls are safe from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "hv/error.hpp"
#include "hv/event_fd.hpp"
#include "hv/exit.hpp"
#include "hv/guest_memory.hpp"
#include "hv/interrupts.hpp"
#include "hv/io_handler.hpp"
#include "hv/x86_registers.hpp"

namespace hv {

enum class Capability : std::uint8_t {
  ReadOnlyMemory,   // map_memory with read_only: guest writes exit as MMIO
  DirtyLog,         // dirty page logging per mapped region
  Irqfd,            // eventfd -> guest interrupt
  Ioeventfd,        // MMIO guest write -> eventfd, no userspace exit
  IoeventfdPio,     // the same for port I/O (MSHV has MMIO ioeventfds only)
  MsiSignal,        // Vm::signal_msi
  GsiRouting,       // Vm::set_gsi_routing (value: number of routes)
  InKernelIrqchip,  // VmOptions::in_kernel_irqchip (PIC/IOAPIC/LAPIC in the kernel)
  InKernelPit,      // VmOptions::in_kernel_pit
  Xsave,            // Vcpu::get_xsave / set_xsave
  MaxVcpus,         // value: most vCPUs per VM
  MaxMemorySlots,   // value: most mapped regions per VM
  VcpuEvents,       // Vcpu::get_vcpu_events / set_vcpu_events
  MpState,          // Vcpu::get_mp_state / set_mp_state
  Xcrs,             // Vcpu::get_xcrs / set_xcrs
  DebugRegisters,   // Vcpu::get_debug_registers / set_debug_registers
};
inline constexpr std::array kAllCapabilities = {
    Capability::ReadOnlyMemory, Capability::DirtyLog,  Capability::Irqfd,      Capability::Ioeventfd,
    Capability::IoeventfdPio,   Capability::MsiSignal, Capability::GsiRouting, Capability::InKernelIrqchip,
    Capability::InKernelPit,    Capability::Xsave,     Capability::MaxVcpus,   Capability::MaxMemorySlots,
    Capability::VcpuEvents,     Capability::MpState,   Capability::Xcrs,       Capability::DebugRegisters};
std::string_view to_string(Capability capability) noexcept;

struct VmOptions {
  // In-kernel PIC, IOAPIC and LAPIC. Needed for irqfd, MSI and LAPIC state. Note: with it, HLT waits
  // in the kernel for an interrupt and does not exit to the VMM.
  bool in_kernel_irqchip = false;
  // In-kernel i8254 PIT; requires in_kernel_irqchip.
  bool in_kernel_pit = false;
  // The signal Vcpu::kick() sends to a vCPU thread inside run(). 0: the backend's default, SIGRTMIN on
  // KVM and SIGRTMIN + 1 on MSHV (mshv and mshv-sim). Otherwise a real-time signal, SIGRTMIN to
  // SIGRTMAX (anything else is InvalidArgument). The backend installs a handler that does nothing,
  // once per process per signal, and create_vcpu fails with Busy if the signal already has another
  // handler; vCPU threads keep it blocked outside run(), so a kick never interrupts the VMM's own
  // system calls. Choose one your process does not use for anything else.
  int kick_signal = 0;
};

// VmOptions::kick_signal with 0 replaced by `backend_default`; InvalidArgument unless the result is a
// real-time signal. For backends.
Result<int> resolve_kick_signal(const VmOptions& options, int backend_default);

struct MapOptions {
  bool read_only = false;  // guest writes reach the IoHandler as MMIO writes; reads come from memory
  bool log_dirty = false;  // start with dirty logging on
};

// Handle of a mapped region within one Vm.
struct MemorySlot {
  std::uint32_t id = 0;
  bool operator==(const MemorySlot&) const = default;
};

// Pages written since the previous fetch: bit i of `bits` covers guest_base + i * kPageSize.
struct DirtyBitmap {
  std::uint64_t guest_base = 0;
  std::uint64_t pages = 0;
  std::vector<std::uint64_t> bits;
  [[nodiscard]] bool is_dirty(std::uint64_t page) const noexcept {
    return page < pages && ((bits[page / 64] >> (page % 64)) & 1U) != 0;
  }
  [[nodiscard]] std::vector<std::uint64_t> dirty_addresses() const;
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  [[nodiscard]] virtual std::uint32_t id() const noexcept = 0;

  // Runs the guest until something other than a device access needs the VMM: a halt, a shutdown, a
  // kick, an error. Every port I/O and MMIO access on the way goes to `io`, and the instruction that
  // made it is complete (registers, RIP, memory) before the guest continues or run() returns, so the
  // vCPU's state between two run() calls is always architectural. The hot path allocates nothing.
  // Busy, at once, when another thread is inside run() on this vCPU.
  [[nodiscard]] Result<Exit> run(IoHandler& io);
  // Makes a run() in progress (or the next one) return InterruptedExit promptly, after the
  // instruction it is executing. Any thread, including an IoHandler called by this vCPU's run().
  // Kicks that arrive before run() sees them coalesce into one InterruptedExit.
  virtual void kick() noexcept = 0;

  virtual Result<GeneralRegisters> get_registers() const = 0;
  virtual Result<void> set_registers(const GeneralRegisters& regs) = 0;
  virtual Result<SpecialRegisters> get_special_registers() const = 0;
  virtual Result<void> set_special_registers(const SpecialRegisters& sregs) = 0;
  virtual Result<FpuState> get_fpu() const = 0;
  virtual Result<void> set_fpu(const FpuState& fpu) = 0;
  virtual Result<XsaveArea> get_xsave() const = 0;
  virtual Result<void> set_xsave(const XsaveArea& xsave) = 0;
  // Fills in `entries[i].value` for each index; fails naming the first MSR the backend refuses.
  virtual Result<void> get_msrs(std::span<MsrEntry> entries) const = 0;
  virtual Result<void> set_msrs(std::span<const MsrEntry> entries) = 0;
  // What CPUID returns to this guest. Set before the first run().
  virtual Result<void> set_cpuid(std::span<const CpuidEntry> entries) = 0;
  virtual Result<std::vector<CpuidEntry>> get_cpuid() const = 0;
  // Unsupported unless the VM has an in-kernel irqchip.
  virtual Result<LapicState> get_lapic() const = 0;
  virtual Result<void> set_lapic(const LapicState& lapic) = 0;

  // The rest of a vCPU's state for a snapshot. Each is a Capability (the backend may lack it, and says
  // why with Unsupported); the defaults here are that answer for a backend that has not implemented
  // it. Each set_ checks its input first (hv/vcpu_state_checks.hpp): InvalidArgument, not the errno of a
  // kernel that refused it.
  //
  // Events being delivered and what blocks delivery. Set them after set_registers: KVM's
  // KVM_SET_REGS drops a pending exception. MSHV holds one injected event (exception, NMI or
  // interrupt) at a time and no latched NMI outside its APIC: more is Unsupported there.
  virtual Result<VcpuEvents> get_vcpu_events() const;
  virtual Result<void> set_vcpu_events(const VcpuEvents& events);
  // Anything but Runnable needs the in-kernel irqchip on KVM (Unsupported without); MSHV has no
  // Uninitialized and no SipiReceived state (Unsupported).
  virtual Result<MpState> get_mp_state() const;
  virtual Result<void> set_mp_state(MpState state);
  // XCR0 must be valid for XSETBV and, where the vCPU's CPUID has leaf 0xD, within what it offers.
  virtual Result<ExtendedControlRegisters> get_xcrs() const;
  virtual Result<void> set_xcrs(const ExtendedControlRegisters& xcrs);
  virtual Result<DebugRegisters> get_debug_registers() const;
  virtual Result<void> set_debug_registers(const DebugRegisters& debug);

 protected:
  Vcpu() = default;
  // The backend's run loop; run() has made sure no other thread is inside it.
  virtual Result<Exit> run_guest(IoHandler& io) = 0;

 private:
  std::atomic<bool> running_{false};
};

class Vm {
 public:
  virtual ~Vm() = default;

  // Maps `region` at its guest base and adds it to memory() with the permission the guest has
  // (MapOptions::read_only: devices may read it, never write it). Overlap when it collides with a
  // mapped region in guest-physical space, or when its host memory is already mapped (one host range
  // at two guest addresses: a device write through one would change the other behind the dirty log).
  // The Vm holds the region until unmap_memory or destruction, and each vCPU holds memory() (so
  // everything the kernel can still reach through a vCPU stays alive, whatever is destroyed first).
  [[nodiscard]] Result<MemorySlot> map_memory(std::shared_ptr<GuestRegion> region, MapOptions options = {});
  [[nodiscard]] Result<void> unmap_memory(MemorySlot slot);
  // Guest RAM as devices see it: exactly the mapped regions, with their permissions; the single
  // source of truth for a VMM's devices. A layout change (map/unmap) must not race with device
  // accesses: map memory before devices run, or pause them around a change.
  [[nodiscard]] std::shared_ptr<const GuestMemory> memory() const noexcept { return memory_; }

  // OutOfRange for an id >= Capability::MaxVcpus; AlreadyExists for an id in use.
  virtual Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t id) = 0;

  virtual Result<void> register_irqfd(const EventFd& event, std::uint32_t gsi) = 0;
  virtual Result<void> unregister_irqfd(const EventFd& event, std::uint32_t gsi) = 0;
  virtual Result<void> register_ioeventfd(const EventFd& event, const IoEventAddress& where) = 0;
  virtual Result<void> unregister_ioeventfd(const EventFd& event, const IoEventAddress& where) = 0;
  virtual Result<void> signal_msi(const MsiMessage& message) = 0;
  virtual Result<void> set_gsi_routing(std::span<const GsiRoute> routes) = 0;
  // Drives an in-kernel irqchip input (edge: true then false).
  virtual Result<void> set_irq_line(std::uint32_t gsi, bool level) = 0;

  // Dirty logging per slot. The log holds the pages the guest wrote and the pages devices wrote
  // through GuestMemory (any GuestMemory holding the region), since the previous fetch.
  [[nodiscard]] Result<void> enable_dirty_log(MemorySlot slot);
  [[nodiscard]] Result<DirtyBitmap> fetch_and_clear_dirty_log(MemorySlot slot);
  [[nodiscard]] Result<void> disable_dirty_log(MemorySlot slot);

 protected:
  Vm() = default;
  // The backend's halves of the calls above; the Vm has checked the region and keeps memory() in
  // step with them.
  virtual Result<MemorySlot> map_region(std::shared_ptr<GuestRegion> region, MapOptions options) = 0;
  virtual Result<void> unmap_region(MemorySlot slot) = 0;
  virtual Result<void> start_dirty_log(MemorySlot slot) = 0;
  virtual Result<DirtyBitmap> fetch_guest_dirty_log(MemorySlot slot) = 0;
  virtual Result<void> stop_dirty_log(MemorySlot slot) = 0;
  // The region mapped in `slot`, or nullptr.
  [[nodiscard]] std::shared_ptr<GuestRegion> region_in(MemorySlot slot) const;

 private:
  mutable std::mutex memory_mutex_;  // guards slots_ and memory_'s layout
  std::map<std::uint32_t, std::shared_ptr<GuestRegion>> slots_;
  std::shared_ptr<GuestMemory> memory_ = std::make_shared<GuestMemory>();
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] virtual std::uint32_t api_version() const noexcept = 0;
  // The capability's value (1 for yes/no capabilities) or Unsupported with the reason.
  virtual Result<std::uint64_t> capability(Capability capability) const = 0;
  // The CPUID values this host can offer a guest.
  virtual Result<std::vector<CpuidEntry>> supported_cpuid() const = 0;
  virtual Result<std::unique_ptr<Vm>> create_vm(const VmOptions& options = {}) = 0;
};

}  // namespace hv
