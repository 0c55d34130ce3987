# reset_vector — see docs/conformance.md
# Not loaded at 0x1000 like the others: the case copies this code to guest-physical 0xfffffff0, where a
# vCPU whose registers were never set starts (CS.base 0xffff0000, IP 0xfff0, real mode).
  .include "guest.inc"
  .code16
  .globl _start
_start:
  mov $0x42, %al
  out %al, $REPORT_PORT
  hlt
