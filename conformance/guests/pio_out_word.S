# pio_out_word — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x3fa, %dx
  mov $0xbeef, %ax
  out %ax, (%dx)
  hlt
