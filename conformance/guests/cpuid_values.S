# cpuid_values — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x40000000, %eax
  xor %ecx, %ecx
  cpuid
  hlt
