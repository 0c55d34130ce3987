# reg_fpu — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  fxsave SCRATCH          # the state the VMM set
  fxrstor SCRATCH + 0x400  # the state the VMM wrote to memory
  hlt
