# reg_rip_rflags — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  pushfq
  pop %rax
  mov %rax, SCRATCH
  cmc                  # CF flips
  std                  # DF set
  hlt
