# host_writes_visible — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  xor %eax, %eax
  mov $SCRATCH, %esi
  mov $16, %ecx
1:
  add (%rsi), %rax
  add $8, %rsi
  loop 1b
  mov %rax, %rbx
  hlt
