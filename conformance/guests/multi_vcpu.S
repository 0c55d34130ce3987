# multi_vcpu — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov %bx, %dx
  add $0x100, %dx      # port 0x100 + vCPU id (the VMM put the id in BX)
  mov %bx, %ax
1:
  out %ax, (%dx)
  loop 1b
  hlt
