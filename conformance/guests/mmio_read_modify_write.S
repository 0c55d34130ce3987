# mmio_read_modify_write — see docs/conformance.md
# Two instructions that each read and then write one device register: ADD to memory, and XCHG
# (implicitly locked). XCHG's old register value is reported.
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  addl $5, 8(%rdi)
  mov $0x11223344, %eax
  xchg %eax, 16(%rdi)
  out %eax, $REPORT_PORT
  hlt
