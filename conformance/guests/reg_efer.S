# reg_efer — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0xc0000080, %ecx
  rdmsr
  shl $32, %rdx
  or %rdx, %rax
  hlt
