# readonly_region — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x300000, %esi
  mov (%rsi), %al      # from memory: no exit
  inc %al
  mov %al, (%rsi)      # write to read-only memory: MMIO exit
  mov (%rsi), %bl      # memory is unchanged
  hlt
