# reg_control_registers — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov %cr0, %rax
  mov %cr3, %rbx
  mov %cr4, %rcx
  hlt
