# mmio_write_qword_rex — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  movabs $0x0123456789abcdef, %r9
  mov %r9, 8(%rdi)
  hlt
