# mmio_write_moffs — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x5a5a5a5a, %eax
  movabs %eax, MMIO_WINDOW + 0x40
  hlt
