#include "hv/hypervisor.hpp"

namespace hv {

std::string_view to_string(Capability capability) noexcept {
  switch (capability) {
    case Capability::ReadOnlyMemory: return "read_only_memory";
    case Capability::DirtyLog: return "dirty_log";
    case Capability::Irqfd: return "irqfd";
    case Capability::Ioeventfd: return "ioeventfd";
    case Capability::IoeventfdPio: return "ioeventfd_pio";
    case Capability::MsiSignal: return "msi_signal";
    case Capability::GsiRouting: return "gsi_routing";
    case Capability::InKernelIrqchip: return "in_kernel_irqchip";
    case Capability::InKernelPit: return "in_kernel_pit";
    case Capability::Xsave: return "xsave";
    case Capability::MaxVcpus: return "max_vcpus";
    case Capability::MaxMemorySlots: return "max_memory_slots";
    case Capability::VcpuEvents: return "vcpu_events";
    case Capability::MpState: return "mp_state";
    case Capability::Xcrs: return "xcrs";
    case Capability::DebugRegisters: return "debug_registers";
  }
  return "unknown";
}

}  // namespace hv
