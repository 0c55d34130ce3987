# reg_msr_tsc — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  rdtsc
  shl $32, %rdx
  or %rdx, %rax
  hlt
