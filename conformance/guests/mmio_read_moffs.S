# mmio_read_moffs — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $-1, %rax
  movabs MMIO_WINDOW + 0x40, %eax
  hlt
