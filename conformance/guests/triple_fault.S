# triple_fault — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  ud2                  # the IDT is empty: #UD -> #GP -> #DF -> shutdown
