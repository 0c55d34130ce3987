# mmio_read_word_movzx — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  mov $-1, %rcx
  movzwl 2(%rdi), %ecx
  hlt
