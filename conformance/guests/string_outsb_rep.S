# string_outsb_rep — see docs/conformance.md
  .include "guest.inc"
  .code16
  .globl _start
_start:
  cld
  mov $message, %si
  mov $(message_end - message), %cx
  mov $0x3f8, %dx
  rep outsb
  hlt
message:
  .ascii "hvkit conformance"
message_end:
