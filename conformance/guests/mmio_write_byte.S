# mmio_write_byte — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  mov $0xab, %al
  mov %al, (%rdi)
  hlt
