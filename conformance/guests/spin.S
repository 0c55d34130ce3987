# spin — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
1:
  jmp 1b
