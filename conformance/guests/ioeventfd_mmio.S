# ioeventfd_mmio — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $(MMIO_WINDOW + 0x100), %edi
  movl $0x12345678, (%rdi)   # matches the datamatch: no exit
  movl $1, (%rdi)            # does not match: MMIO exit
  hlt
