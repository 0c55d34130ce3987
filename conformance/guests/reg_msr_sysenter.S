# reg_msr_sysenter — see docs/conformance.md
  .include "guest.inc"
  .code64
  .globl _start
_start:
  mov $0x174, %ecx
  rdmsr
  mov %eax, SCRATCH + 0x00
  mov %edx, SCRATCH + 0x04
  mov $0x175, %ecx
  rdmsr
  mov %eax, SCRATCH + 0x08
  mov %edx, SCRATCH + 0x0c
  mov $0x176, %ecx
  rdmsr
  mov %eax, SCRATCH + 0x10
  mov %edx, SCRATCH + 0x14
  mov $0x174, %ecx
  mov $0x23, %eax
  xor %edx, %edx
  wrmsr
  mov $0x175, %ecx
  mov $0x81234000, %eax
  mov $0xffffffff, %edx
  wrmsr
  mov $0x176, %ecx
  mov $0x81235000, %eax
  mov $0xffffffff, %edx
  wrmsr
  hlt
