# reg_gprs — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov %rax, SCRATCH + 0x00
  mov %rbx, SCRATCH + 0x08
  mov %rcx, SCRATCH + 0x10
  mov %rdx, SCRATCH + 0x18
  mov %rsi, SCRATCH + 0x20
  mov %rdi, SCRATCH + 0x28
  mov %rbp, SCRATCH + 0x30
  mov %r8, SCRATCH + 0x38
  mov %r9, SCRATCH + 0x40
  mov %r10, SCRATCH + 0x48
  mov %r11, SCRATCH + 0x50
  mov %r12, SCRATCH + 0x58
  mov %r13, SCRATCH + 0x60
  mov %r14, SCRATCH + 0x68
  mov %r15, SCRATCH + 0x70
  mov SCRATCH + 0x100, %rax
  mov SCRATCH + 0x108, %rbx
  mov SCRATCH + 0x110, %rcx
  mov SCRATCH + 0x118, %rdx
  mov SCRATCH + 0x120, %rsi
  mov SCRATCH + 0x128, %rdi
  mov SCRATCH + 0x130, %rbp
  mov SCRATCH + 0x138, %r8
  mov SCRATCH + 0x140, %r9
  mov SCRATCH + 0x148, %r10
  mov SCRATCH + 0x150, %r11
  mov SCRATCH + 0x158, %r12
  mov SCRATCH + 0x160, %r13
  mov SCRATCH + 0x168, %r14
  mov SCRATCH + 0x170, %r15
  hlt
