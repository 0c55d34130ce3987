# pio_in_unanswered — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x64, %dx
  in (%dx), %eax
  out %eax, $REPORT_PORT
  hlt
