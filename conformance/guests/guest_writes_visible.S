# guest_writes_visible — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  cld
  mov $SCRATCH, %edi
  movabs $0x0123456789abcdef, %rax
  mov $64, %ecx
  rep stosq
  hlt
