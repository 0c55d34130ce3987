# pio_out_dword — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0xcf8, %dx
  mov $0x80001234, %eax
  out %eax, (%dx)
  hlt
