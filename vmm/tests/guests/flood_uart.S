# flood_uart: an hvctl run test guest (see vmm/tests/CMakeLists.txt)
  .code64
  .globl _start
_start:
  mov $0x3f8, %dx
  mov $65536, %ecx
  mov $0x41, %al
1:
  out %al, (%dx)
  loop 1b
  mov $0x501, %dx
  xor %eax, %eax
  out %eax, (%dx)
