# pio_in_word — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x62, %dx
  in (%dx), %ax
  out %ax, $REPORT_PORT
  hlt
