# real_mode_entry — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x1234, %ax
  out %ax, $REPORT_PORT
  mov %cs, %ax
  out %ax, $REPORT_PORT
  mov %sp, %ax
  out %ax, $REPORT_PORT
  hlt
