# mmio_read_dword_movsxd — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  movslq 4(%rdi), %rdx
  hlt
