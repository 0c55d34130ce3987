# pio_in_dword — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0xcfc, %dx
  in (%dx), %eax
  out %eax, $REPORT_PORT
  hlt
