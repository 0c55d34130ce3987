# reg_segments — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov %fs:0, %rax
  mov %gs:8, %rbx
  mov %ds, %ecx
  hlt
