# dirty_log — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  movb $1, 0x501000
  movl $2, 0x505008
  movq $3, 0x50f000
  mov 0x503000, %al   # a read does not dirty a page
  hlt
