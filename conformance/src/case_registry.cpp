#include "cases.hpp"

namespace hv::conformance {

namespace {
using namespace cases;
// The descriptions are the short form of docs/conformance.md.
constexpr auto kCases = std::to_array<CaseInfo>({
    {"real_mode_entry", "a guest starts in real mode at the VMM's CS:IP and stack", real_mode_entry},
    {"long_mode_entry", "a guest starts in 64-bit mode with identity paging and runs 64-bit code", long_mode_entry},
    {"halt", "HLT without an in-kernel irqchip exits as Halt with RIP after the HLT", halt},
    {"triple_fault_is_shutdown", "an undeliverable exception ends the run as Shutdown, not a hang or error",
     triple_fault_is_shutdown},
    {"pio_out_byte", "OUT of 1 byte: port, size and data", pio_out_byte},
    {"pio_out_word", "OUT of 2 bytes: port, size and data", pio_out_word},
    {"pio_out_dword", "OUT of 4 bytes: port, size and data", pio_out_dword},
    {"pio_in_byte", "IN of 1 byte: the VMM's answer reaches the guest", pio_in_byte},
    {"pio_in_word", "IN of 2 bytes: the VMM's answer reaches the guest", pio_in_word},
    {"pio_in_dword", "IN of 4 bytes: the VMM's answer reaches the guest", pio_in_dword},
    {"pio_in_unanswered_reads_all_ones", "an IN the VMM does not answer reads all-ones",
     pio_in_unanswered_reads_all_ones},
    {"string_outsb_rep", "REP OUTSB delivers every byte in order", string_outsb_rep},
    {"string_insw_rep", "REP INSW stores every answered word in guest memory", string_insw_rep},
    {"mmio_write_byte", "MOV r/m8, r8 to MMIO: address, size 1, data", mmio_write_byte},
    {"mmio_write_word_imm", "MOV r/m16, imm16 to MMIO with displacement", mmio_write_word_imm},
    {"mmio_write_dword_sib", "MOV r/m32, r32 to MMIO through a scaled index", mmio_write_dword_sib},
    {"mmio_write_qword_rex", "MOV r/m64, r64 (REX.W+R) to MMIO", mmio_write_qword_rex},
    {"mmio_write_moffs", "MOV moffs32, EAX to MMIO", mmio_write_moffs},
    {"mmio_read_byte", "MOV r8, r/m8 from MMIO keeps the register's upper bytes", mmio_read_byte},
    {"mmio_read_word_movzx", "MOVZX r32, r/m16 from MMIO zero-extends", mmio_read_word_movzx},
    {"mmio_read_dword_movsxd", "MOVSXD r64, r/m32 from MMIO sign-extends", mmio_read_dword_movsxd},
    {"mmio_read_qword", "MOV r64, r/m64 from MMIO", mmio_read_qword},
    {"mmio_read_moffs", "MOV EAX, moffs32 from MMIO zero-extends into RAX", mmio_read_moffs},
    {"unmapped_access_exits", "an access to a GPA with no memory exits as MMIO", unmapped_access_exits},
    {"readonly_region", "a read-only region reads from memory; writes exit and do not land", readonly_region},
    {"map_unmap_remap", "unmapping and remapping a region between runs takes effect", map_unmap_remap},
    {"guest_writes_visible_to_host", "what the guest writes, the VMM reads through GuestMemory",
     guest_writes_visible_to_host},
    {"host_writes_visible_to_guest", "what the VMM writes through GuestMemory, the guest reads",
     host_writes_visible_to_guest},
    {"dirty_log_exact_pages", "the dirty log reports exactly the pages written, and fetching clears it",
     dirty_log_exact_pages},
    {"reg_gprs_roundtrip", "GPRs set by the VMM reach the guest; GPRs loaded by the guest reach the VMM",
     reg_gprs_roundtrip},
    {"reg_rip_rflags", "RFLAGS both ways, and RIP after the run", reg_rip_rflags},
    {"reg_segments", "segment bases and selectors set by the VMM are what the guest uses", reg_segments},
    {"reg_control_registers", "CR0, CR3 and CR4 read by the guest equal the VMM's", reg_control_registers},
    {"reg_efer", "EFER read by the guest equals the VMM's special registers and MSR view", reg_efer},
    {"reg_gdt_idt", "SGDT/SIDT show the VMM's tables; LIDT by the guest is what the VMM reads", reg_gdt_idt},
    {"reg_msr_tsc", "the TSC set by the VMM is where the guest's RDTSC counts from", reg_msr_tsc},
    {"reg_msr_sysenter", "SYSENTER_CS/ESP/EIP both ways between VMM and guest", reg_msr_sysenter},
    {"reg_fpu_state", "XMM and MXCSR both ways between VMM and guest", reg_fpu_state},
    {"cpuid_values_reach_guest", "the CPUID values the VMM set are what the guest's CPUID returns",
     cpuid_values_reach_guest},
    {"two_vcpus_concurrent_io", "2 vCPUs run at once, each seeing only its own IO exits", two_vcpus_concurrent_io},
    {"four_vcpus_concurrent_io", "4 vCPUs run at once, each seeing only its own IO exits", four_vcpus_concurrent_io},
    {"kick_stops_spinning_guest", "kick() from another thread stops a spinning guest within 1 s",
     kick_stops_spinning_guest},
    {"ioeventfd_mmio_datamatch", "a matching MMIO write signals the eventfd without an exit", ioeventfd_mmio_datamatch},
    {"ioeventfd_pio", "a port write signals the eventfd without an exit", ioeventfd_pio},
    {"irqfd_interrupt_reaches_handler", "an irqfd routed as MSI runs the guest's IDT handler",
     irqfd_interrupt_reaches_handler},
    {"msi_interrupt_reaches_handler", "signal_msi runs the guest's IDT handler", msi_interrupt_reaches_handler},
    {"error_overlapping_region", "overlapping and wrapping regions are refused; the VM still runs",
     error_overlapping_region},
    {"error_vcpu_id", "out-of-range and duplicate vCPU ids are refused; the VM still runs", error_vcpu_id},
    {"error_bad_sizes", "bad ioeventfd, region and read-answer sizes are refused; the VM still runs", error_bad_sizes},
});
}  // namespace

std::span<const CaseInfo> all_cases() { return kCases; }

}  // namespace hv::conformance
