# reg_gdt_idt — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  sgdt SCRATCH
  sidt SCRATCH + 0x10
  lidt new_idt(%rip)
  hlt
new_idt:
  .word 0x7ff
  .quad 0x22000
