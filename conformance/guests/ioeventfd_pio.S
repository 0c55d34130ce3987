# ioeventfd_pio — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x510, %dx
  mov $7, %al
  out %al, (%dx)
  hlt
