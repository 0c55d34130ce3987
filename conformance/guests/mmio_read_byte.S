# mmio_read_byte — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  movabs $0x1111111111111111, %rax
  mov (%rdi), %al
  hlt
