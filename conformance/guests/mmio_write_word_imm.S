# mmio_write_word_imm — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  movw $0xbeef, 2(%rdi)
  hlt
