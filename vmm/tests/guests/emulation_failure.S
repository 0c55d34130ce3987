# emulation_failure: its first instruction is POPCNT, which KVM on a host without hardware
# virtualisation (this project's CI: KVM on PVM) cannot run and stops the VM with
# KVM_INTERNAL_ERROR_EMULATION. Where the CPU runs it, the guest writes 0x42 to debug-exit instead
# (and the test reports itself skipped). See vmm/tests/run_hvctl_internal_error.cmake.
  .code64
  .globl _start
_start:
  popcnt %rax, %rbx
  mov $0x501, %dx
  mov $0x42, %eax
  out %eax, (%dx)
  hlt
