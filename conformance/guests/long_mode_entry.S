# long_mode_entry — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  movabs $0x1122334455667788, %rax
  mov %rax, %rbx
  mov %cs, %eax
  out %eax, $REPORT_PORT
  hlt
