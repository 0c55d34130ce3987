# string_insw_rep — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  cld
  mov $0x9000, %di
  mov $8, %cx
  mov $0x60, %dx
  rep insw
  hlt
