# mmio_write_dword_sib — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $MMIO_WINDOW, %edi
  mov $4, %ecx
  mov $0xdeadbeef, %eax
  mov %eax, (%rdi,%rcx,4)
  hlt
