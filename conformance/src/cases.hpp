#pragma once
// Every conformance case; case_registry.cpp lists them with their descriptions.

#include "hv/conformance/suite.hpp"

namespace hv::conformance::cases {

// An X-macro: one list of case names expands into the declarations here and the registry's entries,
// so a case cannot be declared and forgotten. No template can generate declarations from names.
// NOLINTBEGIN(cppcoreguidelines-macro-usage)
// The list is laid out by hand, one group of cases per row (the formatter cannot lay out X-macros).
// clang-format off
#define HVCONF_CASES(X)                                                              \
  X(real_mode_entry) X(long_mode_entry) X(halt) X(triple_fault_is_shutdown)          \
  X(pio_out_byte) X(pio_out_word) X(pio_out_dword) X(pio_in_byte) X(pio_in_word)     \
  X(pio_in_dword) X(pio_in_unanswered_reads_all_ones) X(string_outsb_rep)            \
  X(string_insw_rep)                                                                 \
  X(mmio_write_byte) X(mmio_write_word_imm) X(mmio_write_dword_sib)                  \
  X(mmio_write_qword_rex) X(mmio_write_moffs) X(mmio_read_byte)                      \
  X(mmio_read_word_movzx) X(mmio_read_dword_movsxd) X(mmio_read_qword)               \
  X(mmio_read_moffs) X(unmapped_access_exits)                                        \
  X(mmio_read_modify_write) X(mmio_movs_between_devices) X(string_io_across_pages)   \
  X(readonly_region) X(map_unmap_remap) X(guest_writes_visible_to_host)              \
  X(host_writes_visible_to_guest) X(dirty_log_exact_pages)                           \
  X(reg_gprs_roundtrip) X(reg_rip_rflags) X(reg_segments) X(reg_control_registers)   \
  X(reg_efer) X(reg_gdt_idt) X(reg_msr_tsc) X(reg_msr_sysenter) X(reg_fpu_state)     \
  X(cpuid_values_reach_guest)                                                        \
  X(two_vcpus_concurrent_io) X(four_vcpus_concurrent_io) X(kick_stops_spinning_guest) \
  X(concurrent_run_is_busy)                                                          \
  X(ioeventfd_mmio_datamatch) X(ioeventfd_pio) X(irqfd_interrupt_reaches_handler)   \
  X(msi_interrupt_reaches_handler)                                                   \
  X(error_overlapping_region) X(error_vcpu_id) X(error_bad_sizes)                   \
  X(vcpu_keeps_memory_alive) X(error_aliased_host_memory)                            \
  X(dirty_log_includes_device_writes) X(reset_state_runs_the_reset_vector)            \
  X(vcpu_events_roundtrip) X(injected_interrupt_reaches_handler) X(mp_state_roundtrip) \
  X(xcrs_roundtrip) X(debug_registers_roundtrip)
// clang-format on

#define HVCONF_DECLARE(name) CaseResult name(Hypervisor& hypervisor);
HVCONF_CASES(HVCONF_DECLARE)
#undef HVCONF_DECLARE
// NOLINTEND(cppcoreguidelines-macro-usage)

}  // namespace hv::conformance::cases
