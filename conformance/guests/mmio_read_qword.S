# mmio_read_qword — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  mov 8(%rdi), %r10
  hlt
