# pio_out_byte — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x3f8, %dx
  mov $0xa5, %al
  out %al, (%dx)
  hlt
