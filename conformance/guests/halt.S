# halt — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  hlt
