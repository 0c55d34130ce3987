# map_unmap_remap — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x400000, %esi
  mov (%rsi), %eax
  out %eax, $REPORT_PORT
  hlt
