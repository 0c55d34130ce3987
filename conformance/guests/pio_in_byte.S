# pio_in_byte — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x60, %dx
  in (%dx), %al
  out %al, $REPORT_PORT
  hlt
